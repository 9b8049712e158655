package dataset

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Config describes a dataset. JSON names match the Python DatasetConfig fields.
type Config struct {
	Name                   string         `json:"name"`
	FullName               string         `json:"full_name"`
	Description            string         `json:"description"`
	InputShape             []int          `json:"input_shape"`
	NumClasses             int            `json:"num_classes"`
	NumTrainSamples        int            `json:"num_train_samples"`
	NumTestSamples         int            `json:"num_test_samples"`
	TaskType               string         `json:"task_type"`
	Version                string         `json:"version"`
	DownloadURL            string         `json:"download_url,omitempty"`
	DefaultBatchSize       int            `json:"default_batch_size"`
	DefaultTrainTransforms []string       `json:"default_train_transforms"`
	DefaultTestTransforms  []string       `json:"default_test_transforms"`
	Mean                   []float64      `json:"mean,omitempty"`
	Std                    []float64      `json:"std,omitempty"`
	Format                 string         `json:"format,omitempty"` // "mnist", "cifar10", "cifar100", "imagefolder", "" (arrays from the caller)
	Metadata               map[string]any `json:"metadata"`
}

// InputSize is the product of InputShape: the flattened input width.
func (c *Config) InputSize() int {
	n := 1
	for _, d := range c.InputShape {
		n *= d
	}
	return n
}

// EnsureDefaults fills the fields a user may leave out.
func (c *Config) EnsureDefaults() {
	if c.FullName == "" {
		c.FullName = c.Name
	}
	if c.TaskType == "" {
		c.TaskType = "classification"
	}
	if c.Version == "" {
		c.Version = "1.0"
	}
	if c.DefaultBatchSize == 0 {
		c.DefaultBatchSize = 128
	}
	if c.DefaultTrainTransforms == nil {
		c.DefaultTrainTransforms = []string{}
	}
	if c.DefaultTestTransforms == nil {
		c.DefaultTestTransforms = []string{}
	}
	if c.Metadata == nil {
		c.Metadata = map[string]any{}
	}
}

// Validate rejects configurations no loader could honour.
func (c *Config) Validate() error {
	if c.Name == "" || strings.ContainsAny(c.Name, "/\\\x00") || c.Name == "." || c.Name == ".." {
		return errs.Invalidf("dataset name %q is not a plain name", c.Name)
	}
	if len(c.InputShape) == 0 {
		return errs.Invalidf("dataset %q: input_shape is empty", c.Name)
	}
	for _, d := range c.InputShape {
		if d <= 0 {
			return errs.Invalidf("dataset %q: input_shape %v has a non-positive dimension", c.Name, c.InputShape)
		}
	}
	if c.NumClasses <= 0 {
		return errs.Invalidf("dataset %q: num_classes must be positive, got %d", c.Name, c.NumClasses)
	}
	if c.NumTrainSamples < 0 || c.NumTestSamples < 0 {
		return errs.Invalidf("dataset %q: sample counts must not be negative", c.Name)
	}
	if c.DefaultBatchSize <= 0 {
		return errs.Invalidf("dataset %q: default_batch_size must be positive", c.Name)
	}
	channels := c.InputShape[0]
	if len(c.Mean) > 0 && len(c.Mean) != channels && len(c.Mean) != 1 {
		return errs.Invalidf("dataset %q: mean has %d values for %d channels", c.Name, len(c.Mean), channels)
	}
	if len(c.Std) != len(c.Mean) {
		return errs.Invalidf("dataset %q: mean and std lengths differ", c.Name)
	}
	for _, s := range c.Std {
		if !(s > 0) {
			return errs.Invalidf("dataset %q: std values must be positive", c.Name)
		}
	}
	return nil
}

// Clone returns a deep copy, so registry entries cannot be mutated through results.
func (c *Config) Clone() *Config {
	b, _ := json.Marshal(c)
	var out Config
	_ = json.Unmarshal(b, &out)
	return &out
}

// NotFoundError is returned by lookups of unknown names; it lists the registered ones.
type NotFoundError struct {
	Name      string
	Available []string
}

func (e *NotFoundError) Error() string {
	return "unknown dataset " + quote(e.Name) + "; available: " + strings.Join(e.Available, ", ")
}

// Unwrap makes errors.Is(err, errs.ErrNotFound) true.
func (e *NotFoundError) Unwrap() error { return errs.ErrNotFound }

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// Registry maps names to configs. The zero value is not usable; use NewRegistry.
type Registry struct {
	mu      sync.RWMutex
	configs map[string]*Config
	order   []string
}

// NewRegistry returns a registry holding the built-in datasets.
func NewRegistry() *Registry {
	r := &Registry{configs: map[string]*Config{}}
	for _, c := range Builtins() {
		_ = r.Register(c, false)
	}
	return r
}

// Default is the process-wide registry.
var Default = NewRegistry()

// Register adds c. Re-registering an existing name is an error unless replace
// is true: silently keeping the first registration (as the original did) hid
// typos and stale configs.
func (r *Registry) Register(c *Config, replace bool) error {
	c = c.Clone()
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.configs[c.Name]; ok {
		if !replace {
			return errs.Conflictf("dataset %q is already registered (pass replace=True to override)", c.Name)
		}
	} else {
		r.order = append(r.order, c.Name)
	}
	r.configs[c.Name] = c
	return nil
}

// Get returns a copy of the named config or a *NotFoundError.
func (r *Registry) Get(name string) (*Config, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.configs[name]
	if !ok {
		return nil, &NotFoundError{Name: name, Available: slices.Clone(r.order)}
	}
	return c.Clone(), nil
}

// Names lists registered names in registration order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.order)
}

// Unregister removes a user-registered dataset; built-ins cannot be removed.
func (r *Registry) Unregister(name string) error {
	if isBuiltin(name) {
		return errs.Invalidf("dataset %q is built in and cannot be unregistered", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.configs[name]; !ok {
		return &NotFoundError{Name: name, Available: slices.Clone(r.order)}
	}
	delete(r.configs, name)
	r.order = slices.DeleteFunc(r.order, func(s string) bool { return s == name })
	return nil
}

func isBuiltin(name string) bool {
	return slices.Contains([]string{"mnist", "cifar10", "cifar100", "imagenet"}, name)
}

// Builtins returns fresh copies of the built-in configurations, with the
// original implementation's constants. MNIST's input_shape is (1, 28, 28),
// not the original's (28, 28), because that is the shape of the tensors it yields.
func Builtins() []*Config {
	return []*Config{
		{
			Name: "mnist", FullName: "MNIST Handwritten Digits",
			Description: "28x28 grayscale images of handwritten digits (0-9)",
			InputShape:  []int{1, 28, 28}, NumClasses: 10, NumTrainSamples: 60000, NumTestSamples: 10000,
			DownloadURL:            "https://ossci-datasets.s3.amazonaws.com/mnist",
			DefaultBatchSize:       128,
			DefaultTrainTransforms: []string{"normalize"}, DefaultTestTransforms: []string{"normalize"},
			Mean: []float64{0.1307}, Std: []float64{0.3081}, Format: "mnist",
			Metadata: map[string]any{
				"citation": "LeCun, Y., Cortes, C., & Burges, C. J. (1998). The MNIST database of handwritten digits.",
				"website":  "http://yann.lecun.com/exdb/mnist/",
			},
		},
		{
			Name: "cifar10", FullName: "CIFAR-10",
			Description: "32x32 color images in 10 classes",
			InputShape:  []int{3, 32, 32}, NumClasses: 10, NumTrainSamples: 50000, NumTestSamples: 10000,
			DownloadURL:            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
			DefaultBatchSize:       128,
			DefaultTrainTransforms: []string{"random_horizontal_flip", "normalize"}, DefaultTestTransforms: []string{"normalize"},
			Mean: []float64{0.4914, 0.4822, 0.4465}, Std: []float64{0.2023, 0.1994, 0.2010}, Format: "cifar10",
			Metadata: map[string]any{
				"citation": "Krizhevsky, A. (2009). Learning multiple layers of features from tiny images.",
				"website":  "https://www.cs.toronto.edu/~kriz/cifar.html",
				"classes":  []any{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"},
			},
		},
		{
			Name: "cifar100", FullName: "CIFAR-100",
			Description: "32x32 color images in 100 classes (20 superclasses)",
			InputShape:  []int{3, 32, 32}, NumClasses: 100, NumTrainSamples: 50000, NumTestSamples: 10000,
			DownloadURL:            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
			DefaultBatchSize:       128,
			DefaultTrainTransforms: []string{"random_horizontal_flip", "random_crop", "normalize"}, DefaultTestTransforms: []string{"normalize"},
			Mean: []float64{0.5071, 0.4867, 0.4408}, Std: []float64{0.2675, 0.2565, 0.2761}, Format: "cifar100",
			Metadata: map[string]any{
				"citation":     "Krizhevsky, A. (2009). Learning multiple layers of features from tiny images.",
				"website":      "https://www.cs.toronto.edu/~kriz/cifar.html",
				"superclasses": 20,
			},
		},
		{
			Name: "imagenet", FullName: "ImageNet ILSVRC 2012",
			Description: "224x224 color images in 1000 classes",
			InputShape:  []int{3, 224, 224}, NumClasses: 1000, NumTrainSamples: 1281167, NumTestSamples: 50000,
			DownloadURL:            "https://image-net.org/download.php",
			DefaultBatchSize:       256,
			DefaultTrainTransforms: []string{"random_resized_crop", "random_horizontal_flip", "normalize"},
			DefaultTestTransforms:  []string{"resize", "center_crop", "normalize"},
			Mean:                   []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}, Format: "imagefolder",
			Metadata: map[string]any{
				"citation":          "Deng, J., et al. (2009). ImageNet: A large-scale hierarchical image database.",
				"website":           "https://image-net.org/",
				"requires_download": true,
			},
		},
	}
}
