package kvnode

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/node/server"
)

// Config is the part of kvnode's command line the harness sets: the read
// mode, the unsafe switches and the replication knobs the bug zoo and the
// explore sampler change. A zero field leaves the node's default. Every
// programmatic producer of node flags builds a Config and renders it with
// Flags; flags a user passes by hand are parsed back with ParseConfig, which
// refuses what kvnode would refuse.
type Config struct {
	// ReadMode is --read-mode (index, lease or local).
	ReadMode server.ReadMode
	// Unsafe lists the deliberately unsafe switches (--unsafe), each one of
	// server.UnsafeNames().
	Unsafe []string
	// ElectionTimeout, HeartbeatInterval and RequestTimeout are
	// --election-timeout, --heartbeat-interval and --request-timeout.
	ElectionTimeout   time.Duration
	HeartbeatInterval time.Duration
	RequestTimeout    time.Duration
	// SnapshotEntries and SegmentBytes are --snapshot-entries and
	// --segment-bytes: how often the low-water mark moves and when a WAL
	// segment rolls over.
	SnapshotEntries uint64
	SegmentBytes    int64
	// MaxAppendEntries and MaxInflightAppends are --max-append-entries and
	// --max-inflight-appends: the size of one append and the depth of the
	// request pipeline.
	MaxAppendEntries   int
	MaxInflightAppends int
	// Other are flags Config has no field for (e.g. --log-level=debug),
	// passed on as given, after the typed ones.
	Other []string
}

// configFlag is one typed flag of Config: its name without dashes, how its
// value is rendered (ok false: unset) and how a value is parsed into it.
type configFlag struct {
	name   string
	render func(c *Config) (string, bool)
	parse  func(c *Config, value string) error
}

// configFlags are Config's flags in the order Flags renders them.
var configFlags = []configFlag{
	{"read-mode",
		func(c *Config) (string, bool) { return string(c.ReadMode), c.ReadMode != "" },
		func(c *Config, v string) (err error) { c.ReadMode, err = server.ParseReadMode(v); return err }},
	{"election-timeout", durationRender(func(c *Config) *time.Duration { return &c.ElectionTimeout }),
		durationParse(func(c *Config) *time.Duration { return &c.ElectionTimeout })},
	{"heartbeat-interval", durationRender(func(c *Config) *time.Duration { return &c.HeartbeatInterval }),
		durationParse(func(c *Config) *time.Duration { return &c.HeartbeatInterval })},
	{"request-timeout", durationRender(func(c *Config) *time.Duration { return &c.RequestTimeout }),
		durationParse(func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"snapshot-entries",
		func(c *Config) (string, bool) {
			return strconv.FormatUint(c.SnapshotEntries, 10), c.SnapshotEntries > 0
		},
		func(c *Config, v string) (err error) {
			c.SnapshotEntries, err = strconv.ParseUint(v, 10, 64)
			if err == nil && c.SnapshotEntries == 0 {
				err = errMustBePositive
			}
			return err
		}},
	{"segment-bytes",
		func(c *Config) (string, bool) { return strconv.FormatInt(c.SegmentBytes, 10), c.SegmentBytes > 0 },
		func(c *Config, v string) (err error) {
			c.SegmentBytes, err = strconv.ParseInt(v, 10, 64)
			if err == nil && c.SegmentBytes <= 0 {
				err = errMustBePositive
			}
			return err
		}},
	{"max-append-entries", intRender(func(c *Config) *int { return &c.MaxAppendEntries }),
		intParse(func(c *Config) *int { return &c.MaxAppendEntries })},
	{"max-inflight-appends", intRender(func(c *Config) *int { return &c.MaxInflightAppends }),
		intParse(func(c *Config) *int { return &c.MaxInflightAppends })},
	{"unsafe",
		func(c *Config) (string, bool) { return strings.Join(c.Unsafe, ","), len(c.Unsafe) > 0 },
		func(c *Config, v string) (err error) { c.Unsafe, err = server.ParseUnsafeList(v); return err }},
}

var errMustBePositive = fmt.Errorf("must be positive")

func durationRender(field func(*Config) *time.Duration) func(*Config) (string, bool) {
	return func(c *Config) (string, bool) { d := *field(c); return d.String(), d > 0 }
}

func durationParse(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errMustBePositive
		}
		*field(c) = d
		return err
	}
}

func intRender(field func(*Config) *int) func(*Config) (string, bool) {
	return func(c *Config) (string, bool) { n := *field(c); return strconv.Itoa(n), n > 0 }
}

func intParse(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err == nil && n <= 0 {
			err = errMustBePositive
		}
		*field(c) = n
		return err
	}
}

// Flags renders the configuration as kvnode flags, one --name=value token
// per set field in a fixed order, then Other.
func (c Config) Flags() []string {
	var out []string
	for _, f := range configFlags {
		if v, ok := f.render(&c); ok {
			out = append(out, "--"+f.name+"="+v)
		}
	}
	return append(out, c.Other...)
}

// ParseConfig reads node flags, as a user passes them with --node-flags,
// into a Config. A typed flag may be given as --name=value, --name value,
// or with one dash; given twice, the last wins, as in kvnode. Flags Config
// has no field for go to Other unchanged and in order. A bad value of a
// typed flag, or an unsafe switch the node does not have, is an error that
// names the flag.
func ParseConfig(flags []string) (Config, error) {
	var c Config
	for i := 0; i < len(flags); i++ {
		name, value, hasValue := splitFlag(flags[i])
		f, ok := lookupFlag(name)
		if !ok {
			c.Other = append(c.Other, flags[i])
			continue
		}
		if !hasValue {
			if i+1 == len(flags) {
				return Config{}, fmt.Errorf("node flag --%s needs a value", name)
			}
			i++
			value = flags[i]
		}
		if err := f.parse(&c, value); err != nil {
			return Config{}, fmt.Errorf("node flag --%s %q: %w", name, value, err)
		}
	}
	return c, nil
}

// splitFlag splits "--name=value" or "-name=value"; name is "" for a token
// that is not a flag.
func splitFlag(token string) (name, value string, hasValue bool) {
	if !strings.HasPrefix(token, "-") {
		return "", "", false
	}
	name = strings.TrimPrefix(strings.TrimPrefix(token, "-"), "-")
	name, value, hasValue = strings.Cut(name, "=")
	return name, value, hasValue
}

func lookupFlag(name string) (configFlag, bool) {
	for _, f := range configFlags {
		if f.name == name {
			return f, true
		}
	}
	return configFlag{}, false
}
