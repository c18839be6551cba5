/*
 * The key file (key.h).  Whoever can read it can sign images that root's
 * restore honours, and whoever can replace it can make root honour their
 * own: so it is used only when it is a regular file of ours that nobody
 * else may read or write, in a directory nobody else may change (or a
 * sticky one, like /tmp, where others cannot rename our files).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/key.h"
#include "image/sha256.h"

static const struct img_key *default_key, *signing_key;

void img_key_set_default(const struct img_key *key)
{
	default_key = key;
}

const struct img_key *img_key_default(void)
{
	return default_key;
}

void img_key_set_signing(const struct img_key *key)
{
	signing_key = key;
}

const struct img_key *img_key_signing(void)
{
	return signing_key;
}

int img_key_use_for_reading(void)
{
	static struct img_key key;
	int ret;

	if (geteuid() != 0)
		return 0;
	ret = img_key_load(&key, 0);
	if (ret == -ENOENT)
		return 0;
	if (ret == 0)
		img_key_set_default(&key);
	return ret;
}

const char *img_key_path(void)
{
	const char *p = getenv("CKPT_KEY_FILE");

	return p && *p ? p : CKPT_KEY_DEFAULT;
}

static int safe_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The directory holding the key: ours or root's, and nobody else may
 * add, remove or rename files in it (unless it is sticky). */
static int check_dir(const char *path, int create)
{
	char *copy = xstrdup(path), *dir = dirname(copy);
	struct stat st;
	int ret = 0;

	/* /var and /var/lib as usual (a bare system may have neither), then
	 * ours for root alone */
	if (create && !strcmp(path, CKPT_KEY_DEFAULT) &&
	    (((mkdir("/var", 0755) < 0 && errno != EEXIST) ||
	      (mkdir("/var/lib", 0755) < 0 && errno != EEXIST) ||
	      (mkdir(dir, 0700) < 0 && errno != EEXIST))))
		ret = error_errno(errno, "cannot create the key directory \"%s\"", dir);
	else if (stat(dir, &st) < 0)
		ret = errno == ENOENT && !create ? -ENOENT :
		      error_errno(errno, "key directory \"%s\"", dir);
	else if (!S_ISDIR(st.st_mode) || !safe_owner(st.st_uid) ||
		 ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))
		ret = error("key directory \"%s\" may be changed by others (owner uid %u, mode %03o): "
			    "the key cannot be trusted", dir, st.st_uid, st.st_mode & 07777);
	free(copy);
	return ret;
}

static int create_key(const char *path)
{
	uint8_t k[CKPT_KEY_LEN];
	char *tmp = NULL;
	int fd, ret = 0;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0) {
		ret = error_errno(errno, "cannot create the key file \"%s\"", path);
		free(tmp);
		return ret;
	}
	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
		ret = error_errno(errno, "cannot get random bytes for the key");
	else if ((ret = write_all(fd, k, sizeof(k))) < 0 || fsync(fd) < 0)
		ret = error_errno(ret < 0 ? ret : errno, "cannot write the key file \"%s\"", tmp);
	close(fd);
	/* link, not rename: a key another ckpt made meanwhile stays (and
	 * every image signed with it stays good). */
	if (ret == 0 && link(tmp, path) < 0 && errno != EEXIST)
		ret = error_errno(errno, "cannot create the key file \"%s\"", path);
	unlink(tmp);
	free(tmp);
	memset(k, 0, sizeof(k));
	return ret;
}

static int read_key(const char *path, struct img_key *key, int create)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), ret;
	struct stat st;

	if (fd < 0) {
		if (errno == ENOENT || (!create && (errno == EACCES || errno == EPERM)))
			return -ENOENT;
		return error_errno(errno, "cannot open the key file \"%s\"", path);
	}
	if (fstat(fd, &st) < 0)
		ret = error_errno(errno, "key file \"%s\"", path);
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		ret = error("key file \"%s\" is not a file of ours (owner uid %u): it cannot be trusted",
			    path, st.st_uid);
	else if (st.st_mode & 077)
		ret = error("key file \"%s\" may be read or written by others (mode %03o): "
			    "it cannot be trusted (chmod 600, then make a new key if others read it)",
			    path, st.st_mode & 07777);
	else if (st.st_size != CKPT_KEY_LEN)
		ret = error("key file \"%s\" is %lld bytes, not %d", path, (long long)st.st_size,
			    CKPT_KEY_LEN);
	else if ((ret = read_all(fd, key->k, sizeof(key->k))) < 0)
		ret = error_errno(ret, "cannot read the key file \"%s\"", path);
	close(fd);
	return ret;
}

int img_key_load(struct img_key *key, int create)
{
	const char *path = img_key_path();
	uint8_t id[SHA256_LEN];
	int ret;

	memset(key, 0, sizeof(*key));
	if ((ret = check_dir(path, create)) < 0)
		return ret;
	ret = read_key(path, key, create);
	if (ret == -ENOENT && create && (ret = create_key(path)) == 0)
		ret = read_key(path, key, 0);
	if (ret < 0)
		return ret;
	hmac_sha256(key->k, sizeof(key->k), "ckpt key id", 11, id);
	memcpy(key->id, id, sizeof(key->id));
	return 0;
}
