package config

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestReadProperties(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
	}{
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"spaces around equals", "a = b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"colon with spaces", "a : b", map[string]string{"a": "b"}},
		{"space separator", "a b", map[string]string{"a": "b"}},
		{"tab separator", "a\tb", map[string]string{"a": "b"}},
		{"only the first separator counts", "a==b", map[string]string{"a": "=b"}},
		{"space then equals in value", "a  b=c", map[string]string{"a": "b=c"}},
		{"trailing whitespace kept", "a=b  ", map[string]string{"a": "b  "}},
		{"leading whitespace dropped", "   a=b", map[string]string{"a": "b"}},
		{"value with colon and slashes", "listeners=PLAINTEXT://:9092", map[string]string{"listeners": "PLAINTEXT://:9092"}},
		{"hash comment", "# a=b\nc=d", map[string]string{"c": "d"}},
		{"bang comment", "! a=b\nc=d", map[string]string{"c": "d"}},
		{"indented comment", "  \t# a=b", map[string]string{}},
		{"hash inside value is literal", "a=b#c", map[string]string{"a": "b#c"}},
		{"blank lines", "\n\n  \n\ta=b\n\n", map[string]string{"a": "b"}},
		{"continuation", "a=b\\\n   c\\\n d", map[string]string{"a": "bcd"}},
		{"continuation line starting with #", "a=b\\\n#c", map[string]string{"a": "b#c"}},
		{"comment does not continue", "#a\\\nb=c", map[string]string{"b": "c"}},
		{"escaped backslash does not continue", "a=b\\\\\nc=d", map[string]string{"a": `b\`, "c": "d"}},
		{"three backslashes continue", "a=b\\\\\\\nc", map[string]string{"a": `b\c`}},
		{"continuation at end of input", "a=b\\", map[string]string{"a": "b"}},
		{"continuation then blank line ends", "a=b\\\n\nc=d", map[string]string{"a": "b", "c": "d"}},
		{"escaped separators in key", `a\=b\:c\ d=e`, map[string]string{"a=b:c d": "e"}},
		{"escapes", `a=\t\n\r\f\x\\\=`, map[string]string{"a": "\t\n\r\fx\\="}},
		{"unicode escape", `a=\u0041\u00e9\u20AC`, map[string]string{"a": "Aé€"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"lone surrogate", `a=\uD83Dx`, map[string]string{"a": "\uFFFDx"}},
		{"utf-8 passes through", "ключ=значение", map[string]string{"ключ": "значение"}},
		{"key only", "a", map[string]string{"a": ""}},
		{"key and separator only", "a=", map[string]string{"a": ""}},
		{"empty key", "=b", map[string]string{"": "b"}},
		{"duplicate: last wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"CRLF", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
		{"CR", "a=1\rb=2", map[string]string{"a": "1", "b": "2"}},
		{"CRLF continuation", "a=1\\\r\n  2", map[string]string{"a": "12"}},
		{"form feed is whitespace", "\fa\fb", map[string]string{"a": "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadProperties(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("ReadProperties(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestReadPropertiesErrors(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\u12G4`, "x=1\n\\uZZZZ=b", `a=\u`} {
		_, err := ReadProperties(strings.NewReader(in))
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "line") {
			t.Errorf("ReadProperties(%q): %v, want a syntax error with a line", in, err)
		}
	}
	_, err := ReadProperties(strings.NewReader("x=1\n\\uZZZZ=b"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("want line 2 in %v", err)
	}
	_, err = ReadProperties(failingReader{})
	if !errors.Is(err, errBoom) {
		t.Errorf("read error not wrapped: %v", err)
	}
}

var errBoom = errors.New("boom")

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errBoom }

// A realistic server.properties parses and configures the broker.
func TestServerPropertiesFile(t *testing.T) {
	in := `# Sluice single node
node.id=2
process.roles=broker,controller
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
controller.listener.names=CONTROLLER
controller.quorum.voters=2@localhost:9093
log.dirs=/var/lib/sluice/a,\
         /var/lib/sluice/b
log.retention.hours=24
num.partitions : 3
`
	props, err := ReadProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	b := mustParse(t, props)
	if b.NodeID != 2 || len(b.LogDirs) != 2 || b.LogDirs[1] != "/var/lib/sluice/b" || b.NumPartitions != 3 {
		t.Errorf("parsed %+v", *b)
	}
	if tp, _ := b.Topic(nil); tp.RetentionMs != 24*hourMs {
		t.Errorf("retention %d", tp.RetentionMs)
	}
}

func roundTrip(t *testing.T, m map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteProperties(&buf, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadProperties(&buf)
	if err != nil {
		t.Fatalf("reading back %q: %v", buf.String(), err)
	}
	if !maps.Equal(got, m) {
		t.Fatalf("round trip of %q via %q gave %q", m, buf.String(), got)
	}
}

func TestWritePropertiesRoundTrip(t *testing.T) {
	roundTrip(t, map[string]string{
		"plain": "value", "": "empty key", "k ey=:#!": " leading space", "tabs\t": "\ttab\nnewline\r\f",
		"backslash\\": "ends with \\", "#comment": "!bang", "unicode": "é€😀", "empty": "",
	})
}

func FuzzReadProperties(f *testing.F) {
	for _, s := range []string{"a=b", "a b\\\n c", "# x\n!y\nk:v", `a\u0041=\uD83D\uDE00`, "a=b\r\nc\\", `\`, "\\u", "=", " \\ "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ReadProperties(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error not ErrSyntax: %v", err)
			}
			return
		}
		// Whatever was read writes out and reads back identically.
		roundTrip(t, m)
	})
}

func FuzzPropertiesRoundTrip(f *testing.F) {
	f.Add("key", "value")
	f.Add(" k=:", " \\\n\t#!")
	f.Add("", "\r")
	f.Fuzz(func(t *testing.T, k, v string) {
		roundTrip(t, map[string]string{k: v, k + "2": v + v})
	})
}
