package harness

import (
	"errors"
	"fmt"

	"github.com/faultline/faultline/checker"
)

// Exit codes, as Jepsen's: the verdict, or why there is none.
const (
	ExitValid    = 0
	ExitInvalid  = 1
	ExitUnknown  = 2
	ExitBadArgs  = 254
	ExitInternal = 255
)

// ExitCode maps a verdict to the process exit code.
func ExitCode(v checker.Verdict) int {
	switch v {
	case checker.Valid:
		return ExitValid
	case checker.Invalid:
		return ExitInvalid
	default:
		return ExitUnknown
	}
}

// UsageError is a bad argument: the user must change the command line.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// IsUsage reports whether err is (or wraps) a UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
