package redisstore

import "syscall"

// interruptSignal makes redis-server shut down cleanly (it writes its append-only file).
var interruptSignal = syscall.SIGTERM
