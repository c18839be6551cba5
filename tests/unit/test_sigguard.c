/*
 * common/sigguard.c sigguard_helper_thread(): a helper thread of ours
 * (dump/twin.c's, dump/pages.c's side scan) blocks every signal, so that
 * a ^C lands on the main thread; the main thread's mask is untouched.
 */
#include <pthread.h>
#include <signal.h>

#include "common/sigguard.h"
#include "harness.h"

static void *helper(void *arg)
{
	sigguard_helper_thread();
	pthread_sigmask(SIG_BLOCK, NULL, arg);
	return NULL;
}

TEST(helper_thread_blocks_every_signal)
{
	sigset_t got, mine;
	pthread_t th;

	sigemptyset(&got);
	ASSERT_EQ(0, pthread_create(&th, NULL, helper, &got));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(1, sigismember(&got, SIGINT));
	ASSERT_EQ(1, sigismember(&got, SIGTERM));
	ASSERT_EQ(1, sigismember(&got, SIGHUP));
	ASSERT_EQ(1, sigismember(&got, SIGUSR1));
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, NULL, &mine));
	ASSERT_EQ(0, sigismember(&mine, SIGINT));
	ASSERT_EQ(0, sigismember(&mine, SIGTERM));
}

TEST_HARNESS_MAIN
