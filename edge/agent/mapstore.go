package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/control"
)

// MapFile is the file in the data dir that keeps the applied map across
// restarts.
//
// How it meets the SETTINGS of the config file: the file records the
// version of the config file's SETTINGS when the map was pushed ("base").
// At start, while the config file's SETTINGS still have that version, the
// pushed map (and the previous one, for map.rollback) is restored from
// this file. When somebody has changed the config file's SETTINGS since,
// the config file wins: the pushed map is set aside as map.json.replaced
// and a warning says so. Deleting map.json returns an edge to its config
// file's SETTINGS at the next start.
const MapFile = "map.json"

// storedMap is one map as persisted: its SETTINGS and what is known of it.
type storedMap struct {
	// Settings is the canonical JSON of the SETTINGS document.
	Settings json.RawMessage `json:"settings"`
	// Info describes it.
	Info control.MapInfo `json:"info"`
}

// mapFile is the content of MapFile.
type mapFile struct {
	// Base is the version of the config file's SETTINGS when written.
	Base string `json:"base"`
	// Current is the map that runs.
	Current storedMap `json:"current"`
	// Previous is what map.rollback restores.
	Previous *storedMap `json:"previous,omitempty"`
}

// canonicalSettings is the canonical JSON of s and its version: of the
// document as written (doc) when it is JSON, else of s encoded again (a
// YAML file, settings inline in the agent's config).
func canonicalSettings(s *settings.Settings, doc []byte) ([]byte, string, error) {
	if raw, err := control.Canonical(doc); err == nil && len(doc) > 0 {
		v, err := control.MapVersion(raw)
		return raw, v, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, "", fmt.Errorf("encode SETTINGS: %w", err)
	}
	raw, err := control.Canonical(b)
	if err != nil {
		return nil, "", err
	}
	v, err := control.MapVersion(raw)
	return raw, v, err
}

// initialMap returns the map to start with: the config file's SETTINGS, or
// the map pushed since, restored from MapFile (see there).
func (a *Agent) initialMap() (*settings.Settings, []byte, control.MapInfo, *storedMap) {
	s := a.cfg.Settings
	raw, base, err := canonicalSettings(s, a.cfg.settingsRaw)
	if err != nil { // a validated Settings always encodes
		a.log.Error("encoding the SETTINGS of the config file", "err", err)
	}
	a.ctl.base = base
	info := control.MapInfo{Version: base, AppliedAt: time.Now().UTC(), Source: control.SourceConfig, Confirmed: true}
	path := filepath.Join(a.cfg.DataDir, MapFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, raw, info, nil
	}
	var mf mapFile
	if err == nil {
		err = json.Unmarshal(data, &mf)
	}
	if err != nil {
		a.log.Error("the persisted map is unreadable; starting with the config file's SETTINGS", "file", path, "err", err)
		return s, raw, info, nil
	}
	if mf.Base != base {
		a.log.Warn("the config file's SETTINGS changed since a map was pushed: they win, and the pushed map is set aside",
			"pushed", mf.Current.Info.Version, "pusher", mf.Current.Info.Pusher, "config", base, "set_aside", path+".replaced")
		if err := os.Rename(path, path+".replaced"); err != nil {
			a.log.Error("setting the pushed map aside", "err", err)
		}
		return s, raw, info, nil
	}
	ps, err := a.loadSettings(mf.Current.Settings)
	if err != nil {
		a.log.Error("the persisted map no longer validates; starting with the config file's SETTINGS", "file", path, "err", err)
		return s, raw, info, nil
	}
	a.log.Info("restored the pushed map", "map", mf.Current.Info.Version, "pusher", mf.Current.Info.Pusher)
	return ps, mf.Current.Settings, mf.Current.Info, mf.Previous
}

// loadSettings decodes and validates a SETTINGS document as at start-up:
// the document itself (settings.Load), then the agent-level checks of the
// config with it (documents of every slave).
func (a *Agent) loadSettings(doc []byte) (*settings.Settings, error) {
	s, err := settings.Load(doc)
	if err != nil {
		return nil, prefixErrors("settings", err)
	}
	c := *a.cfg
	c.Settings = s
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// persist writes the running and the previous map to MapFile, atomically
// (a crash leaves the old file or the new one). a.mapMu must be held.
func (a *Agent) persist() error {
	a.mu.RLock()
	mf := mapFile{Base: a.ctl.base, Current: storedMap{Settings: a.raw, Info: a.mapInfo}, Previous: a.prev}
	a.mu.RUnlock()
	data, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return fmt.Errorf("persist the map: %w", err)
	}
	path := filepath.Join(a.cfg.DataDir, MapFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("persist the map: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("persist the map: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("persist the map: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("persist the map: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("persist the map: %w", err)
	}
	if d, err := os.Open(a.cfg.DataDir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}
