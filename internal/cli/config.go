package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"trel/client"
)

// config is the client configuration saved by `trel login`.
type config struct {
	Server string `json:"server"`
	Token  string `json:"token"`
}

// configPath is $TREL_CONFIG, or trel/config.json in the user's config
// directory ($XDG_CONFIG_HOME or ~/.config).
func configPath() (string, error) {
	if p := os.Getenv("TREL_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the configuration directory: %w (set TREL_CONFIG)", err)
	}
	return filepath.Join(dir, "trel", "config.json"), nil
}

func loadConfig() (config, error) {
	var c config
	p, err := configPath()
	if err != nil {
		return c, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading %s: %w", p, err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s is not valid JSON: %w; fix it or run `trel login` again", p, err)
	}
	return c, nil
}

// saveConfig writes the configuration with mode 0600: it holds a token.
func saveConfig(c config) (string, error) {
	p, err := configPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	data, _ := json.MarshalIndent(c, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps an existing file's mode
		return "", err
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

// newClient builds an API client from TREL_SERVER / TREL_TOKEN, falling
// back to the saved configuration.
func newClient() (*client.Client, error) {
	c, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if v := os.Getenv("TREL_SERVER"); v != "" {
		c.Server = v
	}
	if v := os.Getenv("TREL_TOKEN"); v != "" {
		c.Token = v
	}
	if c.Server == "" {
		return nil, usageError{errors.New("no server configured: run `trel login --server URL` or set TREL_SERVER")}
	}
	return client.New(c.Server, c.Token), nil
}
