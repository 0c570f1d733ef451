package checks

import (
	"context"
	"fmt"

	"trel/internal/domain"
	"trel/internal/store"
)

// publisherIdentities are the Sigstore identities of the project's
// trusted publishers that may compose releases: a keyless bundle their
// workflow made counts like one of a trusted identity, with no separate
// configuration. They are part of the policy, so a publisher change
// changes the Sigstore tasks' inputs and re-runs them.
func publisherIdentities(ctx context.Context, st store.Reader, projectKey string, pol *domain.Policy) ([]domain.SigstoreIdentity, error) {
	if len(pol.Publishers) == 0 {
		return nil, nil
	}
	issuers, err := st.OIDCIssuers(ctx)
	if err != nil {
		return nil, err
	}
	var out []domain.SigstoreIdentity
	for _, p := range pol.Publishers {
		for _, is := range issuers {
			if id, ok := p.SigstoreIdentity(is); ok {
				id.Project = projectKey
				id.CreatedBy = fmt.Sprintf("trusted publisher %d", p.ID)
				out = append(out, id)
			}
		}
	}
	return out, nil
}
