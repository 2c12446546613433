package main

import (
	"flag"
	"io"
	"reflect"
	"slices"
)

// EnvNames lists every environment variable contextd reads as configuration:
// the settings, NAME_FILE for the secrets, the profile selectors and the
// OpenTelemetry variables monitor.Tracing reads.
func EnvNames() []string {
	names := []string{"APP_ENV", "NODE_ENV", "CONFIG_DIR",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED",
		"OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME"}
	for _, s := range settings {
		names = append(names, s.env)
	}
	for _, s := range secretFiles {
		names = append(names, s+"_FILE")
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// SettingNames lists the settings alone (what docs/configuration.md documents).
func SettingNames() []string {
	var names []string
	for _, s := range settings {
		names = append(names, s.env)
	}
	return names
}

// Profiles lists the configuration profiles.
func Profiles() []string { return slices.Clone(profiles) }

// ProfilePort loads a profile from dir with an empty environment otherwise
// and returns its port.
func ProfilePort(dir, profile string) (int, error) {
	env := map[string]string{"APP_ENV": profile, "CONFIG_DIR": dir}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, err := loadConfig(fs, nil, func(k string) string { return env[k] })
	if err != nil {
		return 0, err
	}
	return c.Port, nil
}

// ProfileKeys lists the JSON keys of the configuration: what a complete
// profile file sets.
func ProfileKeys() []string {
	var keys []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("json"); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}
