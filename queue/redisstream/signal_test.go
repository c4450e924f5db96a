package redisstream_test

import "syscall"

const syscallTERM = syscall.SIGTERM
