package main

import (
	"log/slog"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/embed"
	"github.com/contextd/contextd/templates"
)

// newService is the Service over store with the configured embedder
// (EMBEDDINGS_*) and the context templates of TEMPLATES_DIRECTORY (none when
// it is missing or empty). A nil logger logs nothing.
func newService(store contextd.Store, cfg *Config, logger *slog.Logger) (*contextd.Service, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	svc := contextd.NewService(store)
	e, err := embed.New(embedderConfig(cfg))
	if err != nil {
		return nil, err
	}
	if e != nil {
		svc.SetEmbedder(e)
	}
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
