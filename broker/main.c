/*  parley-broker - the request broker and the event proxy, one process.
 *
 *  Configuration comes from the environment (base/config.def). The
 *  broker and the event proxy run on this thread's zloop (pl_evproxy.c
 *  says why the proxy has no thread of its own); libzmq's I/O thread does
 *  the socket work. SIGINT/SIGTERM are blocked in every thread and read
 *  from a signalfd on the zloop, so shutdown is an ordinary loop event:
 *  the broker answers what it holds, says BYE to its workers, and the
 *  process exits 0.
 */
#include "pl_broker.h"
#include "pl_config.h"
#include "pl_evproxy.h"
#include "pl_log.h"
#include "pl_replay.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* zloop poller on the signalfd; runs on the main loop. Ends the loop. */
static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) arg;
    int rc = 0;                 /* a spurious wakeup keeps it running */
    struct signalfd_siginfo info;
    if (read (item->fd, &info, sizeof info) == (ssize_t) sizeof info) {
        pl_info ("broker stopping on %s", strsignal ((int) info.ssi_signo));
        rc = -1;
    }
    return rc;
}

/* Connection-state recovery: the broker's frontend and the log meet here
 * (both run on the main loop). */
static struct {
    pl_broker_t *broker;
    pl_replay_t *replay;
} s_recovery;

/* pl_broker on_recovery; runs on the main loop: SESS, RECOVER, REPLAY. */
static void
s_on_recovery (void *arg, pl_zmsg_t *msg)
{
    (void) arg;
    pl_replay_message (s_recovery.replay, msg, zclock_mono ());
}

/* pl_replay send; runs on the main loop: answers to gateways. */
static void
s_recovery_send (void *arg, const pl_zmsg_part_t *parts, int count)
{
    (void) arg;
    if (s_recovery.broker)
        pl_broker_send_frontend (s_recovery.broker, parts, count);
}

/* A config integer that must lie in [min, max]; logs and returns -1 when
 * it does not. */
static int
s_check_range (pl_config_t *cfg, pl_cfg_key_t key, const char *var, long min, long max)
{
    int rc = 0;
    long value = pl_config_int (cfg, key);
    if (value < min || value > max) {
        pl_error ("config: %s=%ld is out of range (%ld..%ld)", var, value, min, max);
        rc = -1;
    }
    return rc;
}

int
main (int argc, char **argv)
{
    int rc = 1;
    int sfd = -1;
    pl_config_t *cfg = NULL;
    pl_broker_t *broker = NULL;
    pl_evproxy_t *proxy = NULL;
    zloop_t *loop = NULL;

    /* before any thread exists (libzmq's I/O and reaper threads), so that
     * every thread inherits the mask and only the signalfd sees them */
    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGINT);
    sigaddset (&mask, SIGTERM);
    if (pthread_sigmask (SIG_BLOCK, &mask, NULL) != 0) {
        fprintf (stderr, "parley-broker: cannot block signals\n");
        goto cleanup;
    }
    pl_log_init ("broker", getenv ("PARLEY_LOG_LEVEL"), getenv ("PARLEY_LOG_FORMAT"));
    if (argc > 1) {
        pl_error ("parley-broker takes no arguments (got \"%s\"); it is configured "
                  "with PARLEY_* environment variables, see base/config.def", argv[1]);
        goto cleanup;
    }
    cfg = pl_config_new ();
    if (!cfg) {
        pl_error ("invalid configuration (see above); not starting");
        goto cleanup;
    }
    pl_log_init ("broker", pl_config_str (cfg, PL_CFG_LOG_LEVEL),
                 pl_config_str (cfg, PL_CFG_LOG_FORMAT));
    pl_config_log (cfg);
    if (s_check_range (cfg, PL_CFG_HEARTBEAT_MS, "PARLEY_HEARTBEAT_MS", 1, 3600000) == -1
    ||  s_check_range (cfg, PL_CFG_HEARTBEAT_LIVENESS, "PARLEY_HEARTBEAT_LIVENESS", 1, 1000) == -1
    ||  s_check_range (cfg, PL_CFG_QUEUE_TIMEOUT_MS, "PARLEY_QUEUE_TIMEOUT_MS", 0, 86400000) == -1
    ||  s_check_range (cfg, PL_CFG_QUEUE_MAX, "PARLEY_QUEUE_MAX", 0, 10000000) == -1
    ||  s_check_range (cfg, PL_CFG_RECOVERY_MS, "PARLEY_RECOVERY_MS", 0, 86400000) == -1
    ||  s_check_range (cfg, PL_CFG_RECOVERY_BYTES, "PARLEY_RECOVERY_BYTES", 4096,
                       (long) 1 << 40) == -1)
        goto cleanup;
    if (pl_config_int (cfg, PL_CFG_RECOVERY_MS) > 0) {
        pl_replay_opts_t replay_opts = {
            .max_ms = pl_config_int (cfg, PL_CFG_RECOVERY_MS),
            .max_bytes = (size_t) pl_config_int (cfg, PL_CFG_RECOVERY_BYTES),
            .wait_ms = pl_config_int (cfg, PL_CFG_PING_TIMEOUT_MS),
            .send = s_recovery_send,
        };
        s_recovery.replay = pl_replay_new (&replay_opts);
        if (!s_recovery.replay) {
            pl_error ("out of memory");
            goto cleanup;
        }
    }

    const pl_cfg_key_t bound[] = { PL_CFG_BROKER_FRONTEND, PL_CFG_BROKER_BACKEND,
                                   PL_CFG_EVENTS_XSUB, PL_CFG_EVENTS_XPUB };
    for (size_t i = 0; i < sizeof bound / sizeof bound[0]; i++)
        if (pl_config_ensure_ipc_dir (pl_config_str (cfg, bound[i])) == -1) {
            pl_error ("cannot create the directory of %s", pl_config_str (cfg, bound[i]));
            goto cleanup;
        }

    sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd == -1) {
        pl_error ("signalfd: %s", strerror (errno));
        goto cleanup;
    }
    zsys_handler_set (NULL);    /* signals are ours: no czmq handler */

    pl_broker_opts_t opts = {
        .frontend = pl_config_str (cfg, PL_CFG_BROKER_FRONTEND),
        .backend = pl_config_str (cfg, PL_CFG_BROKER_BACKEND),
        .frontend_name = "PARLEY_BROKER_FRONTEND",
        .backend_name = "PARLEY_BROKER_BACKEND",
        .heartbeat_ms = pl_config_int (cfg, PL_CFG_HEARTBEAT_MS),
        .liveness = pl_config_int (cfg, PL_CFG_HEARTBEAT_LIVENESS),
        .queue_max = (size_t) pl_config_int (cfg, PL_CFG_QUEUE_MAX),
        .queue_timeout_ms = pl_config_int (cfg, PL_CFG_QUEUE_TIMEOUT_MS),
        .on_recovery = s_recovery.replay ? s_on_recovery : NULL,
    };
    broker = pl_broker_new (&opts);
    if (!broker)
        goto cleanup;
    s_recovery.broker = broker;
    pl_evproxy_opts_t proxy_opts = {
        .xsub = pl_config_str (cfg, PL_CFG_EVENTS_XSUB),
        .xpub = pl_config_str (cfg, PL_CFG_EVENTS_XPUB),
        .xsub_name = "PARLEY_EVENTS_XSUB",
        .xpub_name = "PARLEY_EVENTS_XPUB",
        .replay = s_recovery.replay,
    };
    proxy = pl_evproxy_new (&proxy_opts);
    if (!proxy)
        goto cleanup;

    loop = zloop_new ();
    zmq_pollitem_t signal_item = { NULL, sfd, ZMQ_POLLIN, 0 };
    if (!loop
    ||  pl_broker_attach (broker, loop) == -1
    ||  pl_evproxy_attach (proxy, loop) == -1
    ||  zloop_poller (loop, &signal_item, s_on_signal, NULL) == -1
    ||  (s_recovery.replay && pl_replay_attach (s_recovery.replay, loop) == -1)) {
        pl_error ("cannot set up the event loop");
        goto cleanup;
    }
    pl_info ("broker ready: frontend=%s backend=%s events=%s -> %s",
             opts.frontend, opts.backend, proxy_opts.xsub, proxy_opts.xpub);
    zloop_start (loop);
    rc = 0;
cleanup:
    s_recovery.broker = NULL;
    pl_broker_destroy (&broker);        /* before their loop */
    pl_evproxy_destroy (&proxy);
    pl_replay_destroy (&s_recovery.replay);
    zloop_destroy (&loop);
    if (sfd != -1)
        close (sfd);
    pl_config_destroy (&cfg);
    /* Terminate ZeroMQ here rather than in czmq's atexit handler: every
     * socket is closed by now, so this returns
     * within the sockets' linger, and "broker stopped" then means that only
     * process teardown is left (under ASan: LeakSanitizer's exit check,
     * which a SIGCONT arriving during it can hang; see broker/README.md). */
    zsys_shutdown ();
    if (rc == 0)
        pl_info ("broker stopped");
    return rc;
}
