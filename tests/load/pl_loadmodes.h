/*  pl_loadmodes - parley-load's modes. Each runs one whole measurement,
 *  prints the one-line JSON summary on stdout and returns the process exit
 *  code: 0 when the run happened (however slow), 1 when it failed (nothing
 *  connected, no READY, a setup error).
 */
#ifndef PL_LOADMODES_H
#define PL_LOADMODES_H

#include "pl_loadopt.h"

int pl_load_connect (const pl_loadopt_t *opts);     /* mode_connect.c */
int pl_load_fanout (const pl_loadopt_t *opts);      /* mode_fanout.c  */
int pl_load_rpc (const pl_loadopt_t *opts);         /* mode_rpc.c     */
int pl_load_broker (const pl_loadopt_t *opts);      /* mode_broker.c  */
int pl_load_worker (const pl_loadopt_t *opts);      /* mode_worker.c: worker, roll */
int pl_load_state (const pl_loadopt_t *opts);       /* mode_state.c   */
int pl_load_rules (const pl_loadopt_t *opts);       /* mode_rules.c   */

#endif
