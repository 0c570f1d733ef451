package server

import (
	"strings"

	"trel/internal/core"
	"trel/internal/oidc"
)

// enableTrustedPublishing lets CI jobs exchange ID tokens issued for the
// server's public URL (the audience `trel login --oidc` asks for).
func enableTrustedPublishing(app *App) {
	u := app.PublicURL
	if u == "" {
		u = DefaultPublicURL
	}
	app.Core.SetTrustedPublishing(core.TrustedPublishing{Registry: oidc.NewRegistry(oidc.Options{}), Audience: strings.TrimSuffix(u, "/")})
}
