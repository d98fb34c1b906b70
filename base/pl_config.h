/*  pl_config - the effective configuration of a process, from the
 *  environment, with the defaults and docs in base/config.def.
 */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stdbool.h>

typedef enum {
#define PL_CFG(id, var, def, type, doc) PL_CFG_##id,
#include "config.def"
    PL_CFG_COUNT
} pl_cfg_key_t;

typedef struct _pl_config_t pl_config_t;

/* Read every variable from the environment. Returns NULL, after logging
 * why, when a value is invalid (a bad integer, an ipc path too long). */
pl_config_t *pl_config_new (void);
void pl_config_destroy (pl_config_t **self_p);

const char *pl_config_str (pl_config_t *self, pl_cfg_key_t key);
long pl_config_int (pl_config_t *self, pl_cfg_key_t key);
/* True when the variable came from the environment, not the default. */
bool pl_config_is_set (pl_config_t *self, pl_cfg_key_t key);

/* Log every value (secrets masked) at info level, so each process states
 * what it runs with. */
void pl_config_log (pl_config_t *self);

/* For a process that binds ipc:// endpoints: create the directory of an
 * ipc:// endpoint (mkdir -p). Returns 0 or -1. Other transports: 0. */
int pl_config_ensure_ipc_dir (const char *endpoint);

/* Longest PARLEY_PATH (the Engine.IO path) accepted. */
#define PL_CONFIG_PATH_MAX 128
/* Most PARLEY_METRICS_PUSH_MS accepted (1 hour). */
#define PL_CONFIG_METRICS_PUSH_MAX 3600000

/* Is path a valid PARLEY_PATH: "/" segments "/", 3..PL_CONFIG_PATH_MAX
 * bytes, each segment non-empty, of RFC 3986 unreserved characters
 * (A-Z a-z 0-9 . _ ~ -), and neither "." nor "..", and not under /api/
 * (REST) nor /healthz/, which the gateway matches first. Such a path needs
 * no escaping anywhere and names one path only. */
bool pl_config_path_valid (const char *path);

/* The dev secret used when PARLEY_JWT_SECRET is empty. */
#define PL_CONFIG_DEV_SECRET "parley-dev-secret-do-not-use-in-production"

void pl_config_test (bool verbose);

#endif
