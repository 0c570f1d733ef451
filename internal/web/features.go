package web

import (
	"io/fs"
	"net/http"

	"trel/internal/core"
	"trel/internal/domain"
)

func fsSub(f fs.FS, dir string) (fs.FS, error) { return fs.Sub(f, dir) }

// features says which optional parts of the core the pages show.
type features struct{ keys, checks bool }

func detectFeatures(*core.Service) features { return features{} }

func (w *Web) optionalRoutes(mux *http.ServeMux) {}

func (w *Web) committeeKeys(r *http.Request, committee string) []domain.Key { return nil }

type checksView struct {
	Run      string
	CanRerun bool
	RerunURL string
	Groups   []checkGroup
}

type checkGroup struct {
	Status  domain.CheckStatus
	Results []domain.CheckResult
}

func (w *Web) checks(r *http.Request, rl *domain.Release, number int) *checksView { return nil }
