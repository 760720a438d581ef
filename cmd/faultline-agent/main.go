// Command faultline-agent applies network faults inside one node container's
// network namespace. The harness runs it through `docker exec`; the image has
// no shell, so every operation is a subcommand of this static binary.
//
//	faultline-agent grudge --drop-from IP[,IP...] [--drop-to IP[,IP...]]   replace the partition rules
//	faultline-agent loss --from IP[,IP...] --percent P   replace the packet-loss rules
//	faultline-agent heal                            delete faultline's nftables table
//	faultline-agent probe                           print {"nftables":bool,"netem":bool}
//	faultline-agent connect --addr IP:PORT --timeout 1s   exit 0 if a TCP connection succeeds
//
// All rules live in an nftables table of their own (ip faultline); Docker's
// tables are never read or changed. Each subcommand prints a one-line error
// and exits non-zero on failure.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"time"
)

// Exit codes: 0 success; 1 the operation ran and said "no" (connect failed);
// 2 bad arguments; 3 the operation itself failed.
const (
	exitOK        = 0
	exitNo        = 1
	exitUsage     = 2
	exitOperation = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "faultline-agent: missing subcommand: use grudge, loss, heal, probe or connect")
		return exitUsage
	}
	var err error
	code := exitOK
	switch args[0] {
	case "grudge":
		err = runGrudge(args[1:])
	case "loss":
		err = runLoss(args[1:])
	case "heal":
		if err = noArguments("heal", args[1:]); err == nil {
			err = heal()
		}
	case "probe":
		if err = noArguments("probe", args[1:]); err == nil {
			err = runProbe(stdout)
		}
	case "connect":
		code, err = runConnect(args[1:])
	default:
		fmt.Fprintf(stderr, "faultline-agent: unknown subcommand %q: use grudge, loss, heal, probe or connect\n", args[0])
		return exitUsage
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			code = exitUsage
		}
		if code == exitOK {
			code = exitOperation
		}
		fmt.Fprintf(stderr, "faultline-agent %s: %s\n", args[0], strings.ReplaceAll(err.Error(), "\n", " "))
		return code
	}
	return code
}

// usageError marks an error in the command line (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args into fs and rejects positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func noArguments(name string, args []string) error {
	return parseFlags(newFlagSet(name), args)
}

func runGrudge(args []string) error {
	fs := newFlagSet("grudge")
	dropFrom := fs.String("drop-from", "", "comma-separated source IPv4 addresses whose packets this node drops (empty: drop nothing)")
	dropTo := fs.String("drop-to", "", "comma-separated destination IPv4 addresses this node sends nothing to (empty: send to all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	from, err := parseIPs(*dropFrom)
	if err != nil {
		return usageError{fmt.Errorf("--drop-from: %w", err)}
	}
	to, err := parseIPs(*dropTo)
	if err != nil {
		return usageError{fmt.Errorf("--drop-to: %w", err)}
	}
	return applyGrudge(from, to)
}

func runLoss(args []string) error {
	fs := newFlagSet("loss")
	from := fs.String("from", "", "comma-separated source IPv4 addresses")
	percent := fs.Float64("percent", -1, "percentage of packets from those sources to drop, 0..100")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ips, err := parseIPs(*from)
	if err != nil {
		return usageError{fmt.Errorf("--from: %w", err)}
	}
	if *percent < 0 || *percent > 100 {
		return usageError{fmt.Errorf("--percent must be in [0, 100], got %v", *percent)}
	}
	return applyLoss(ips, *percent)
}

func runProbe(stdout io.Writer) error {
	res := probe()
	return json.NewEncoder(stdout).Encode(res)
}

// probeResult is what `faultline-agent probe` prints.
type probeResult struct {
	Nftables    bool   `json:"nftables"`
	Netem       bool   `json:"netem"`
	NftablesErr string `json:"nftables_error,omitempty"`
	NetemErr    string `json:"netem_error,omitempty"`
}

func probe() probeResult {
	var res probeResult
	if err := probeNftables(); err != nil {
		res.NftablesErr = err.Error()
	} else {
		res.Nftables = true
	}
	if err := probeNetem(); err != nil {
		res.NetemErr = err.Error()
	} else {
		res.Netem = true
	}
	return res
}

func runConnect(args []string) (int, error) {
	fs := newFlagSet("connect")
	addr := fs.String("addr", "", "IP:PORT to connect to")
	timeout := fs.Duration("timeout", time.Second, "connect timeout")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage, err
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return exitUsage, usageError{fmt.Errorf("--addr: %w", err)}
	}
	conn, err := net.DialTimeout("tcp", *addr, *timeout)
	if err != nil {
		return exitNo, fmt.Errorf("connect %s: %w", *addr, err)
	}
	_ = conn.Close()
	return exitOK, nil
}

// parseIPs parses a comma-separated list of IPv4 addresses; an empty string is an empty list.
func parseIPs(s string) ([]net.IP, error) {
	var ips []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ip := net.ParseIP(part).To4()
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IPv4 address", part)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// lossThreshold converts a percentage into the bound compared against a
// random number in [0, lossModulus): the packet is dropped when rand < bound.
func lossThreshold(percent float64) uint32 {
	return uint32(math.Round(percent * lossModulus / 100))
}
