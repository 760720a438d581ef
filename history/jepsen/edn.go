package jepsen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of an EDN value.
type Kind uint8

// The EDN value kinds the reader knows. A tagged literal (#inst "...",
// #jepsen.history.Op {...}) is the value it tags, with Value.Tag set.
const (
	Nil Kind = iota
	Bool
	Int
	Float
	String
	Keyword
	Symbol
	Char
	Vector
	List
	Set
	Map
)

var kindNames = [...]string{"nil", "boolean", "integer", "float", "string", "keyword", "symbol", "character", "vector", "list", "set", "map"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one EDN value. Only the fields of its Kind are set.
type Value struct {
	Kind Kind
	// Line is the line the value starts on, from 1.
	Line  int
	Bool  bool
	Int   int64
	Float float64
	// Text is a String's content, a Keyword's name without the colon, a
	// Symbol's name or a Char's character.
	Text string
	// Tag is the tag of a tagged literal without the '#', else "".
	Tag string
	// Items are a Vector's, List's or Set's elements in file order, or a
	// Map's keys and values alternating.
	Items []Value
}

// IsKeyword reports whether v is the keyword :name.
func (v Value) IsKeyword(name string) bool { return v.Kind == Keyword && v.Text == name }

// Get returns the value of map v under the keyword :name.
func (v Value) Get(name string) (Value, bool) {
	if v.Kind != Map {
		return Value{}, false
	}
	for i := 0; i+1 < len(v.Items); i += 2 {
		if v.Items[i].IsKeyword(name) {
			return v.Items[i+1], true
		}
	}
	return Value{}, false
}

// IsCollection reports whether v is a vector, list or set.
func (v Value) IsCollection() bool { return v.Kind == Vector || v.Kind == List || v.Kind == Set }

// maxStringBytes bounds what String renders of a value, for error messages.
const maxStringBytes = 200

// String renders v as EDN, cut to about 200 bytes.
func (v Value) String() string {
	var b strings.Builder
	v.write(&b)
	s := b.String()
	if len(s) > maxStringBytes {
		cut := maxStringBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func (v Value) write(b *strings.Builder) {
	if b.Len() > maxStringBytes {
		return
	}
	if v.Tag != "" {
		b.WriteString("#" + v.Tag + " ")
	}
	switch v.Kind {
	case Nil:
		b.WriteString("nil")
	case Bool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case Int:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case Float:
		b.WriteString(strconv.FormatFloat(v.Float, 'g', -1, 64))
	case String:
		b.WriteString(strconv.Quote(v.Text))
	case Keyword:
		b.WriteString(":" + v.Text)
	case Symbol:
		b.WriteString(v.Text)
	case Char:
		b.WriteString(`\` + v.Text)
	case Vector, List, Set, Map:
		open, close := "[", "]"
		switch v.Kind {
		case List:
			open, close = "(", ")"
		case Set:
			open, close = "#{", "}"
		case Map:
			open, close = "{", "}"
		}
		b.WriteString(open)
		for i, it := range v.Items {
			if i > 0 {
				if v.Kind == Map && i%2 == 0 {
					b.WriteString(", ")
				} else {
					b.WriteString(" ")
				}
			}
			it.write(b)
		}
		b.WriteString(close)
	}
}

// ErrSyntax is wrapped by every error the Decoder returns for text that is
// not EDN (or not the subset it reads).
var ErrSyntax = errors.New("not valid EDN")

// maxDepth bounds the nesting of collections, so a hostile file cannot
// exhaust the stack. Jepsen ops nest three or four levels deep.
const maxDepth = 100

// Decoder reads EDN values one top-level form at a time. It reads the subset
// Jepsen writes: nil, booleans, integers (with an optional N), floats (with
// an optional M), strings, characters, keywords, symbols, vectors, lists,
// maps, sets, comments, #_ discards and tagged literals (kept with their tag
// for the caller to accept or refuse).
type Decoder struct {
	r    *bufio.Reader
	line int
	// depth is the current collection nesting.
	depth int
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 1<<16), line: 1}
}

// Next returns the next top-level value, or io.EOF when only whitespace
// and comments are left.
func (d *Decoder) Next() (Value, error) {
	for {
		_, err := d.skipSpace()
		if err == io.EOF {
			return Value{}, io.EOF
		}
		if err != nil {
			return Value{}, fmt.Errorf("read line %d: %w", d.line, err)
		}
		d.unread()
		v, err := d.value()
		if errors.Is(err, errDiscarded) {
			continue
		}
		return v, err
	}
}

// errDiscarded is returned by value for a #_ form, which the caller skips.
var errDiscarded = errors.New("discarded form")

func (d *Decoder) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrSyntax, line, fmt.Sprintf(format, args...))
}

func (d *Decoder) read() (byte, error) {
	c, err := d.r.ReadByte()
	if err == nil && c == '\n' {
		d.line++
	}
	return c, err
}

func (d *Decoder) unread() {
	if err := d.r.UnreadByte(); err != nil {
		return
	}
	if c, _ := d.r.Peek(1); len(c) == 1 && c[0] == '\n' {
		d.line--
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\f'
}

func isDelimiter(c byte) bool {
	return isSpace(c) || strings.IndexByte(`()[]{}";`, c) >= 0
}

// skipSpace skips whitespace, commas and comments and returns the next byte.
func (d *Decoder) skipSpace() (byte, error) {
	for {
		c, err := d.read()
		if err != nil {
			return 0, err
		}
		switch {
		case isSpace(c):
		case c == ';':
			for c != '\n' {
				if c, err = d.read(); err != nil {
					return 0, err
				}
			}
		default:
			return c, nil
		}
	}
}

// value reads one value; the next byte is its first.
func (d *Decoder) value() (Value, error) {
	c, err := d.skipSpace()
	if err == io.EOF {
		return Value{}, d.errorf(d.line, "the file ends in the middle of a value")
	}
	if err != nil {
		return Value{}, fmt.Errorf("read line %d: %w", d.line, err)
	}
	line := d.line
	switch c {
	case '[':
		return d.collection(Vector, ']', line)
	case '(':
		return d.collection(List, ')', line)
	case '{':
		return d.collection(Map, '}', line)
	case ')', ']', '}':
		return Value{}, d.errorf(line, "unexpected %q", c)
	case '"':
		return d.str(line)
	case '\\':
		return d.char(line)
	case '#':
		return d.dispatch(line)
	}
	d.unread()
	tok, err := d.token()
	if err != nil {
		return Value{}, err
	}
	return d.atom(tok, line)
}

func (d *Decoder) collection(kind Kind, close byte, line int) (Value, error) {
	if d.depth >= maxDepth {
		return Value{}, d.errorf(line, "collections nest deeper than %d levels", maxDepth)
	}
	d.depth++
	defer func() { d.depth-- }()
	v := Value{Kind: kind, Line: line}
	for {
		c, err := d.skipSpace()
		if err == io.EOF {
			return Value{}, d.errorf(line, "the %s opened here is never closed", kind)
		}
		if err != nil {
			return Value{}, fmt.Errorf("read line %d: %w", d.line, err)
		}
		if c == close {
			break
		}
		d.unread()
		it, err := d.value()
		if errors.Is(err, errDiscarded) {
			continue
		}
		if err != nil {
			return Value{}, err
		}
		v.Items = append(v.Items, it)
	}
	if kind == Map && len(v.Items)%2 != 0 {
		return Value{}, d.errorf(line, "the map opened here has a key without a value")
	}
	return v, nil
}

// dispatch reads what follows '#': a set, a ##Inf/##NaN, a discard or a tag.
func (d *Decoder) dispatch(line int) (Value, error) {
	c, err := d.read()
	if err != nil {
		return Value{}, d.errorf(line, "the file ends after '#'")
	}
	switch c {
	case '{':
		return d.collection(Set, '}', line)
	case '#':
		tok, err := d.token()
		if err != nil {
			return Value{}, err
		}
		switch tok {
		case "Inf":
			return Value{Kind: Float, Line: line, Float: math.Inf(1)}, nil
		case "-Inf":
			return Value{Kind: Float, Line: line, Float: math.Inf(-1)}, nil
		case "NaN":
			return Value{Kind: Float, Line: line, Float: math.NaN()}, nil
		}
		return Value{}, d.errorf(line, "unknown symbolic value ##%s", tok)
	case '_':
		if _, err := d.value(); err != nil && !errors.Is(err, errDiscarded) {
			return Value{}, err
		}
		return Value{}, errDiscarded
	}
	d.unread()
	tag, err := d.token()
	if err != nil {
		return Value{}, err
	}
	if tag == "" || !isSymbolStart(tag[0]) {
		return Value{}, d.errorf(line, "'#' must start a set #{...}, a discard #_ or a tagged literal #tag, not %q", c)
	}
	v, err := d.value()
	if errors.Is(err, errDiscarded) {
		return Value{}, d.errorf(line, "tagged literal #%s tags nothing", tag)
	}
	if err != nil {
		return Value{}, err
	}
	if v.Tag != "" {
		return Value{}, d.errorf(line, "tagged literal #%s tags another tagged literal #%s", tag, v.Tag)
	}
	v.Tag = tag
	return v, nil
}

func isSymbolStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || strings.IndexByte("*+!-_?<>=.", c) >= 0
}

// token reads up to the next delimiter.
func (d *Decoder) token() (string, error) {
	var b []byte
	for {
		c, err := d.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read line %d: %w", d.line, err)
		}
		if isDelimiter(c) {
			d.unread()
			break
		}
		b = append(b, c)
	}
	return string(b), nil
}

func (d *Decoder) atom(tok string, line int) (Value, error) {
	switch tok {
	case "":
		return Value{}, d.errorf(line, "expected a value")
	case "nil":
		return Value{Kind: Nil, Line: line}, nil
	case "true", "false":
		return Value{Kind: Bool, Line: line, Bool: tok == "true"}, nil
	}
	c := tok[0]
	if c == ':' {
		if len(tok) == 1 || tok[1] == ':' {
			return Value{}, d.errorf(line, "%q is not a keyword (faultline reads :name and :ns/name)", tok)
		}
		return Value{Kind: Keyword, Line: line, Text: tok[1:]}, nil
	}
	if c >= '0' && c <= '9' || (c == '+' || c == '-') && len(tok) > 1 && tok[1] >= '0' && tok[1] <= '9' {
		return d.number(tok, line)
	}
	if !isSymbolStart(c) {
		return Value{}, d.errorf(line, "%q is not a value", tok)
	}
	return Value{Kind: Symbol, Line: line, Text: tok}, nil
}

func (d *Decoder) number(tok string, line int) (Value, error) {
	if strings.ContainsAny(tok, ".eEM") && !strings.HasPrefix(tok, "0x") {
		f, err := strconv.ParseFloat(strings.TrimSuffix(tok, "M"), 64)
		if err != nil {
			return Value{}, d.errorf(line, "%q is not a number", tok)
		}
		return Value{Kind: Float, Line: line, Float: f}, nil
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(tok, "N"), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return Value{}, d.errorf(line, "integer %s does not fit in 64 bits", tok)
		}
		return Value{}, d.errorf(line, "%q is not a number (faultline reads decimal integers and floats)", tok)
	}
	return Value{Kind: Int, Line: line, Int: n}, nil
}

// maxStringBytesRead bounds one string literal, so an unterminated quote in
// a large file fails instead of reading the whole file into one string.
const maxStringBytesRead = 16 << 20

func (d *Decoder) str(line int) (Value, error) {
	var b strings.Builder
	for {
		c, err := d.read()
		if err == io.EOF {
			return Value{}, d.errorf(line, "the string opened here is never closed")
		}
		if err != nil {
			return Value{}, fmt.Errorf("read line %d: %w", d.line, err)
		}
		if b.Len() > maxStringBytesRead {
			return Value{}, d.errorf(line, "the string opened here is longer than %d MiB", maxStringBytesRead>>20)
		}
		switch c {
		case '"':
			return Value{Kind: String, Line: line, Text: b.String()}, nil
		case '\\':
			e, err := d.read()
			if err != nil {
				return Value{}, d.errorf(line, "the string opened here is never closed")
			}
			switch e {
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '\\', '"', '\'':
				b.WriteByte(e)
			case 'u':
				r, err := d.hex4(line)
				if err != nil {
					return Value{}, err
				}
				b.WriteRune(r)
			default:
				return Value{}, d.errorf(d.line, "unknown escape \\%c in a string", e)
			}
		default:
			b.WriteByte(c)
		}
	}
}

func (d *Decoder) hex4(line int) (rune, error) {
	var h [4]byte
	for i := range h {
		c, err := d.read()
		if err != nil {
			return 0, d.errorf(line, "\\u needs four hex digits")
		}
		h[i] = c
	}
	n, err := strconv.ParseUint(string(h[:]), 16, 16)
	if err != nil {
		return 0, d.errorf(line, "\\u%s is not four hex digits", h[:])
	}
	return rune(n), nil
}

func (d *Decoder) char(line int) (Value, error) {
	first, err := d.read()
	if err != nil {
		return Value{}, d.errorf(line, "the file ends after '\\'")
	}
	rest, err := d.token()
	if err != nil {
		return Value{}, err
	}
	name := string(first) + rest
	named := map[string]string{"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "backspace": "\b", "formfeed": "\f"}
	switch {
	case len(name) == 1 || utf8.RuneCountInString(name) == 1:
		return Value{Kind: Char, Line: line, Text: name}, nil
	case named[name] != "":
		return Value{Kind: Char, Line: line, Text: named[name]}, nil
	case len(name) == 5 && name[0] == 'u':
		n, err := strconv.ParseUint(name[1:], 16, 16)
		if err == nil {
			return Value{Kind: Char, Line: line, Text: string(rune(n))}, nil
		}
	}
	return Value{}, d.errorf(line, "\\%s is not a character", name)
}
