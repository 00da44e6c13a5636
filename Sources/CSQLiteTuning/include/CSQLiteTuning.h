#ifndef CSQLITETUNING_H
#define CSQLITETUNING_H

/// Switches off SQLite's memory statistics for the whole process (SQLITE_CONFIG_MEMSTATUS): every allocation
/// SQLite makes otherwise takes one process-wide mutex to count it, which the manifest's writer and readers,
/// on their own threads, then contend for. Must run before SQLite is first used; returns SQLite's result code
/// (SQLITE_MISUSE when SQLite was already initialised, in which case nothing changes).
int voxbatch_sqlite_disable_memstatus(void);

#endif
