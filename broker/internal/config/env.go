package config

import (
	"fmt"
	"maps"
	"strings"
)

// EnvPrefix starts every environment variable that sets a broker config.
const EnvPrefix = "SLUICE_"

// cliEnv lists SLUICE_ variables that belong to the CLI or the test
// harnesses, not to the broker config, so FromEnv skips them.
// Every SLUICE_TEST_ variable belongs to the test harnesses.
func cliEnv(name string) bool {
	switch name {
	case "BROKERS": // sluice topics/produce/consume: bootstrap servers
		return true
	}
	return strings.HasPrefix(name, "TEST_")
}

// FromEnv returns the broker configs set in environ (os.Environ() form):
// SLUICE_LOG_DIRS=/data sets log.dirs (the name after the prefix is
// lower-cased and "_" becomes "."). Variables the CLI owns (SLUICE_BROKERS)
// are skipped; any other SLUICE_ variable that names no broker config is a
// [*KeyError] matching [ErrUnknownKey] that names the variable, so a typo
// in a deployment manifest is not silently ignored. Later duplicates win.
func FromEnv(environ []string) (map[string]string, error) {
	out := map[string]string{}
	t := defs()
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvPrefix)
		if !ok || cliEnv(rest) {
			continue
		}
		key := strings.ReplaceAll(strings.ToLower(rest), "_", ".")
		if _, known := t.byBroker[key]; !known {
			e := unknownKey(key)
			e.Expected = fmt.Sprintf("environment variable %s sets %q, which is not a broker config", name, key)
			if e.Suggest != "" {
				e.Expected += fmt.Sprintf(" (did you mean %s%s?)", EnvPrefix, strings.ToUpper(strings.ReplaceAll(e.Suggest, ".", "_")))
			}
			return nil, &envError{e}
		}
		out[key] = value
	}
	return out, nil
}

// envError prints an unknown-key error in terms of the variable name.
type envError struct{ *KeyError }

func (e *envError) Error() string { return "config: " + e.Expected }

// Unwrap exposes the *KeyError (and through it ErrUnknownKey).
func (e *envError) Unwrap() error { return e.KeyError }

// Merge combines property layers, later layers winning key by key:
// Merge(file, env, sets) gives --set precedence over SLUICE_ variables
// over the properties file. Nil layers are skipped; inputs are not changed.
func Merge(layers ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range layers {
		maps.Copy(out, l)
	}
	return out
}
