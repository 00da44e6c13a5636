#include "CSQLiteTuning.h"
#include <sqlite3.h>

// sqlite3_config is variadic, which Swift cannot call: this is the one call voxbatch makes, in C.
int voxbatch_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
