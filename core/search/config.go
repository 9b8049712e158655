package search

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Config selects and configures the backend of a Searcher; zero values take
// the defaults. The json tags are the field names of the C API's config
// object (snd_search_open), which are ChromaConfig's in Python.
type Config struct {
	// Backend is "embedded" or "chroma"; empty means chroma when Host is set.
	Backend          string `json:"backend"`
	PersistDirectory string `json:"persist_directory"` // embedded; default DefaultPersistDirectory()
	CollectionName   string `json:"collection_name"`   // default "structure_net_experiments"
	// ArchitectureCollection holds the architecture vectors; default
	// CollectionName + "_arch".
	ArchitectureCollection string `json:"architecture_collection"`
	EmbeddingDim           int    `json:"embedding_dim"`              // default 384
	ArchitectureDim        int    `json:"architecture_embedding_dim"` // default 128
	AllowReset             bool   `json:"allow_reset"`
	// MaxNResults rejects (never silently caps) larger n_results; 0 means no limit.
	MaxNResults int `json:"max_n_results"`

	Host       string            `json:"host"`
	Port       int               `json:"port"`
	SSL        bool              `json:"ssl"`
	Headers    map[string]string `json:"headers"`
	AuthToken  string            `json:"auth_token"`
	AuthHeader string            `json:"auth_header"`
	Tenant     string            `json:"tenant"`
	Database   string            `json:"database"`
	Timeout    float64           `json:"timeout"` // seconds
	MaxRetries int               `json:"max_retries"`
	BatchSize  int               `json:"batch_size"`

	BusyTimeout float64 `json:"busy_timeout"` // seconds, embedded
}

// DefaultPersistDirectory is $SND_CHROMA_DIR, else <user cache>/structure-net-data/chroma.
func DefaultPersistDirectory() string {
	if d := os.Getenv("SND_CHROMA_DIR"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "structure-net-data", "chroma")
}

// EnsureDefaults fills zero fields.
func (c *Config) EnsureDefaults() {
	if c.Backend == "" {
		c.Backend = "embedded"
		if c.Host != "" {
			c.Backend = "chroma"
		}
	}
	if c.CollectionName == "" {
		c.CollectionName = "structure_net_experiments"
	}
	if c.ArchitectureCollection == "" {
		c.ArchitectureCollection = c.CollectionName + "_arch"
	}
	if c.EmbeddingDim == 0 {
		c.EmbeddingDim = ExperimentDim
	}
	if c.ArchitectureDim == 0 {
		c.ArchitectureDim = ArchitectureDim
	}
	if c.Backend == "embedded" && c.PersistDirectory == "" {
		c.PersistDirectory = DefaultPersistDirectory()
	}
}

// Validate checks a config after EnsureDefaults.
func (c *Config) Validate() error {
	switch c.Backend {
	case "embedded", "chroma":
	default:
		return errs.Invalidf("backend must be \"embedded\" or \"chroma\", got %q", c.Backend)
	}
	if c.Backend == "chroma" && c.Host == "" {
		return errs.Invalidf("the chroma backend needs a host")
	}
	if c.EmbeddingDim < 0 || c.ArchitectureDim < 0 || c.MaxNResults < 0 || c.Timeout < 0 || c.BusyTimeout < 0 {
		return errs.Invalidf("dimensions, max_n_results and timeouts must not be negative")
	}
	if err := ValidateCollectionName(c.CollectionName); err != nil {
		return err
	}
	return ValidateCollectionName(c.ArchitectureCollection)
}

// OpenStore opens one collection of the configured backend.
func OpenStore(ctx context.Context, c Config, name string) (Store, error) {
	switch c.Backend {
	case "chroma":
		return OpenChroma(ctx, ChromaOptions{
			Host: c.Host, Port: c.Port, SSL: c.SSL, Headers: c.Headers, AuthToken: c.AuthToken, AuthHeader: c.AuthHeader,
			Tenant: c.Tenant, Database: c.Database, Name: name, Space: Cosine,
			Timeout: seconds(c.Timeout), MaxRetries: c.MaxRetries, BatchSize: c.BatchSize,
		})
	default:
		return OpenEmbedded(ctx, EmbeddedOptions{Dir: c.PersistDirectory, Name: name, Space: Cosine, BusyTimeout: seconds(c.BusyTimeout)})
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
