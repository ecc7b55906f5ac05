package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrSyntax is matched by errors from [ReadProperties] for malformed input.
var ErrSyntax = errors.New("config: properties syntax")

// ReadProperties parses a Java .properties file (server.properties) as
// java.util.Properties.load does: lines starting with # or ! are comments;
// a key ends at the first unescaped '=', ':' or whitespace; a line ending
// in an odd number of backslashes continues on the next, whose leading
// whitespace is dropped; \t \n \r \f and \uXXXX are escapes and a
// backslash before any other character stands for that character. Later
// duplicates win. The input is read as UTF-8 (Java's InputStream variant
// assumes ISO-8859-1; non-ASCII text in these files is rare, and UTF-8 is
// what Go programs and editors write).
func ReadProperties(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("config: reading properties: %w", err)
	}
	out := map[string]string{}
	s := string(data)
	lineNo := 0
	for len(s) > 0 {
		var logical strings.Builder
		first := true
		startLine := lineNo + 1
		for {
			var line string
			line, s = cutLine(s)
			lineNo++
			line = strings.TrimLeft(line, " \t\f")
			if first {
				if line == "" || line[0] == '#' || line[0] == '!' {
					break // blank or comment; a trailing backslash does not continue it
				}
				first = false
			}
			if n := trailingBackslashes(line); n%2 == 1 && len(s) > 0 {
				logical.WriteString(line[:len(line)-1])
				continue
			} else if n%2 == 1 {
				line = line[:len(line)-1] // a continuation at end of input ends the value
			}
			logical.WriteString(line)
			break
		}
		if first {
			continue
		}
		k, v, err := splitProperty(logical.String())
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrSyntax, startLine, err)
		}
		out[k] = v
	}
	return out, nil
}

// cutLine splits off one line ended by \n, \r or \r\n.
func cutLine(s string) (line, rest string) {
	i := strings.IndexAny(s, "\r\n")
	if i < 0 {
		return s, ""
	}
	if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
		return s[:i], s[i+2:]
	}
	return s[:i], s[i+1:]
}

func trailingBackslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

// splitProperty splits a logical line into its unescaped key and value.
func splitProperty(line string) (string, string, error) {
	end := len(line)
	valStart := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // skip the escaped character
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			j := i
			for j < len(line) && isSpace(line[j]) {
				j++
			}
			if j < len(line) && (line[j] == '=' || line[j] == ':') {
				j++
				for j < len(line) && isSpace(line[j]) {
					j++
				}
			}
			valStart = j
			break
		}
	}
	key, err := unescape(line[:end])
	if err != nil {
		return "", "", err
	}
	value, err := unescape(line[valStart:])
	if err != nil {
		return "", "", err
	}
	return key, value, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	var pending rune = -1 // a high surrogate waiting for its pair
	flush := func() {
		if pending >= 0 {
			b.WriteRune(utf8.RuneError)
			pending = -1
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			flush()
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 't':
			flush()
			b.WriteByte('\t')
		case 'n':
			flush()
			b.WriteByte('\n')
		case 'r':
			flush()
			b.WriteByte('\r')
		case 'f':
			flush()
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) {
				return "", fmt.Errorf(`malformed \uXXXX escape %q`, s[i-1:])
			}
			var r rune
			for _, h := range []byte(s[i+1 : i+5]) {
				var d byte
				switch {
				case h >= '0' && h <= '9':
					d = h - '0'
				case h >= 'a' && h <= 'f':
					d = h - 'a' + 10
				case h >= 'A' && h <= 'F':
					d = h - 'A' + 10
				default:
					return "", fmt.Errorf(`malformed \uXXXX escape %q`, s[i-1:i+5])
				}
				r = r<<4 | rune(d)
			}
			i += 4
			switch {
			case utf16.IsSurrogate(r) && r < 0xDC00:
				flush()
				pending = r
			case utf16.IsSurrogate(r) && pending >= 0:
				b.WriteRune(utf16.DecodeRune(pending, r))
				pending = -1
			default:
				flush()
				b.WriteRune(r)
			}
		default:
			flush()
			b.WriteByte(c)
		}
	}
	flush()
	return b.String(), nil
}

// WriteProperties writes props in .properties syntax, sorted by key, so
// that [ReadProperties] returns exactly props. Non-ASCII text is written
// as UTF-8, matching ReadProperties.
func WriteProperties(w io.Writer, props map[string]string) error {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		b.WriteString(escape(k, true))
		b.WriteByte('=')
		b.WriteString(escape(props[k], false))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("config: writing properties: %w", err)
	}
	return nil
}

func escape(s string, key bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '=', ':', '#', '!':
			b.WriteByte('\\')
			b.WriteByte(c)
		case ' ':
			if key || i == 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
