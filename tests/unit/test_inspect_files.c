/*
 * ckpt inspect reads the files an image's mappings name, for symbols
 * (inspect/sym.c) and for code bytes the image does not hold
 * (inspect/code.c).  An image is untrusted: it may name a FIFO, whose
 * open would block inspect for good, or a device.  Only regular files are
 * read (insp_open_file); the rest is "not in a readable file".
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "inspect/inspect.h"
#include "harness.h"

#define START	0x10000000ull
#define PC	(START + 0x80)

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ckpt-unit-inspect.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

/* A thread at PC in a file mapping of path, as inspect prepares it. */
static void code_of(const char *path, struct insp_thread *th, struct img_vma *v)
{
	memset(v, 0, sizeof(*v));
	memset(th, 0, sizeof(*th));
	v->d.start = START;
	v->d.end = START + 4096;
	v->d.flags = CKPT_VMA_FILE;
	v->d.prot = 5;
	v->path = (char *)path;
	th->pc = PC;
	th->vma = v;
	alarm(10);	/* a blocked open fails the test instead of hanging it */
	insp_symbol(v, PC, &th->sym);
	insp_code_want(th);
	insp_code_finish(th);
	alarm(0);
}

TEST(a_fifo_is_not_opened)
{
	struct insp_thread th;
	struct img_vma v;
	char path[128];

	make_dir();
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ASSERT_EQ(0, mkfifo(path, 0600));
	code_of(path, &th, &v);
	EXPECT_EQ(0, th.code.ninsns);
	EXPECT_STREQ("the code is neither in the image nor in a readable file", th.code.why);
	EXPECT_TRUE(th.sym.name == NULL);
	insp_code_free(&th.code);
	unlink(path);
	rmdir(dir);
}

TEST(a_device_is_not_read)
{
	struct insp_thread th;
	struct img_vma v;

	/* /dev/zero would give zeros, which decode ("add [rax], al"). */
	code_of("/dev/zero", &th, &v);
	EXPECT_EQ(0, th.code.ninsns);
	insp_code_free(&th.code);
}

TEST(a_regular_file_is_read)
{
	struct insp_thread th;
	struct img_vma v;
	uint8_t nops[4096];
	char path[128];
	int fd;

	make_dir();
	snprintf(path, sizeof(path), "%s/code", dir);
	memset(nops, 0x90, sizeof(nops));	/* x86-64 nop; aarch64 decodes it too */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sizeof(nops), write(fd, nops, sizeof(nops)));
	close(fd);
	code_of(path, &th, &v);
	EXPECT_GE(th.code.ninsns, 1) {
		TH_LOG("why: %s", th.code.why ? th.code.why : "(none)");
	}
	insp_code_free(&th.code);
	unlink(path);
	rmdir(dir);
}

TEST_HARNESS_MAIN
