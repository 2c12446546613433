package main

import (
	"log/slog"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/templates"
)

// newService is the Service over store with the context templates of
// TEMPLATES_DIRECTORY (none when it is missing or empty).
func newService(store contextd.Store, cfg *Config, logger *slog.Logger) (*contextd.Service, error) {
	svc := contextd.NewService(store)
	tpl, err := templates.Load(cfg.TemplatesDirectory)
	if err != nil {
		return nil, &configError{"TEMPLATES_DIRECTORY", err.Error()}
	}
	if n := len(tpl.List()); n > 0 {
		svc.Templates = tpl
		logger.Info("context templates", "dir", cfg.TemplatesDirectory, "types", n)
	}
	return svc, nil
}
