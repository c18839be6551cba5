/*
 * dump/pagepack.c give_back(): a slot the writer took from a compressor
 * (TAKEN while PACKING: it wrote the raw form) leaves the ring, and the
 * writer takes a spare in its place; the compressor gives the slot back
 * among the spares when it is done.  Done before the writer took its
 * spare, it finds every entry full: it must wait for the one the writer
 * frees, not drop the slot (a spare less for good: "internal: no spare
 * page slot" at a later orphan; stop 25's reviewer, with a forced delay
 * between pagepack_take and pagepack_spare).  That window is forced here.
 * pagepack.c itself included, for its static release() (as
 * test_crc32c.c does for crc32c.c), its functions under their own names:
 * this copy defines every one, so the linker never takes pagepack.o from
 * libckpt.a (renaming some would pull it in for the others, defined twice).
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "dump/pagepack.c"

#include "harness.h"

struct compressor {
	struct pipe *pp;
	struct slot *s;
	int late;
};

/* Its slot packed: too late, the writer has it. */
static void *compressor_done(void *arg)
{
	struct compressor *c = arg;

	c->late = release(c->pp, c->s, c->s->seq, CS_PACKED);
	return NULL;
}

TEST(a_slot_left_to_a_compressor_waits_for_the_spare_the_writer_frees)
{
	struct slot slots[2];
	struct slot *spare[1] = { &slots[0] };	/* one compressor: one spare, there */
	struct pipe pp;
	struct compressor c = { &pp, &slots[1], 0 };
	struct timespec until;
	pthread_t th;
	int orphan = 0, joined;

	memset(slots, 0, sizeof(slots));
	memset(&pp, 0, sizeof(pp));
	pp.spare = spare;
	pp.nspare = 1;
	slots[1].seq = 7;
	slots[1].cst = cs(7, CS_PACKING);	/* the compressor claimed it */
	/* the writer gets there first: it writes the raw form */
	ASSERT_EQ(0, pagepack_take(&pp, &slots[1], &orphan));
	ASSERT_EQ(1, orphan);
	/* the compressor is done before the writer took its spare */
	ASSERT_EQ(0, pthread_create(&th, NULL, compressor_done, &c));
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 200 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	joined = pthread_timedjoin_np(th, NULL, &until) == 0;
	/* the writer's spare: the one there */
	ASSERT_EQ(1, pagepack_spare(&pp) == &slots[0]);
	if (!joined)
		ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(1, c.late);
	/* and the slot is a spare now: none lost */
	EXPECT_EQ(1, spare[0] == &slots[1]) {
		TH_LOG("the slot given back is not among the spares (%s)",
		       joined ? "the compressor returned before the spare was free" : "");
	}
	EXPECT_EQ(0, joined);
}

TEST_HARNESS_MAIN
