/* memory.c - the in-memory backend: a single node, so there is nothing to
 * forward; every operation is the local one in adapter.c. */
#include "backend.h"

const sg_adapter_ops_t sg_adapter_memory_ops = {
    .abi = SG_ADAPTER_ABI,
    .name = "memory",
};
