package cff_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"libcff.org/cff"
)

const config = `{"model": {"embed_dim": 16, "num_layers": 2, "height": 8, "width": 8, "num_classes": 2},
  "train": {"device": "cpu", "seed": 3, "threads": 1, "batch_size": 8}}`
const n = 16

// trainingData: class 0 bright in the top half, class 1 in the bottom half.
func trainingData() ([]uint8, []int64) {
	images := make([]uint8, n*64)
	labels := make([]int64, n)
	for i := 0; i < n; i++ {
		labels[i] = int64(i % 2)
		for p := 0; p < 64; p++ {
			base := 40
			if (labels[i] == 0) == (p/8 < 4) {
				base = 180
			}
			images[i*64+p] = uint8(base + (i*7+p*3)%30)
		}
	}
	return images, labels
}

// probeImages are the images every binding predicts for the cross-binding check.
func probeImages() []uint8 {
	out := make([]uint8, 8*64)
	for j := range out {
		i, p := j/64, j%64
		out[j] = uint8((i*37 + p*11 + i*p) % 256)
	}
	return out
}

// must returns v, or fails the running test (by panicking) with err.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func trainedModel(t *testing.T) *cff.Model {
	t.Helper()
	m := must(cff.NewModelJSON(config))
	images, labels := trainingData()
	b := &cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}
	for i := 0; i < 3; i++ {
		losses := must(m.Step(b))
		if len(losses) != 2 || math.IsNaN(losses[0]) {
			t.Fatalf("losses %v", losses)
		}
	}
	for i := 0; i < 3; i++ {
		must(m.HeadStep(b))
	}
	return m
}

func header(t *testing.T) string {
	data, err := os.ReadFile("../../capi/include/cff.h")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestPluginsLoadByPathAndFailWithTheLibraryMessage(t *testing.T) {
	if cff.PluginABIVersion() < 1 {
		t.Fatal("plugin ABI version < 1")
	}
	_, err := cff.LoadPlugin("/no/such/plugin.so")
	if !errors.Is(err, cff.ErrPlugin) || !strings.Contains(err.Error(), "/no/such/plugin.so") {
		t.Fatalf("expected a plugin error naming the file, got %v", err)
	}
	if path := os.Getenv("CFF_TEST_PLUGIN"); path != "" {
		name, err := cff.LoadPlugin(path)
		if err != nil || name != "cosine-margin-sample" {
			t.Fatalf("LoadPlugin: %q, %v", name, err)
		}
		if ok, err := cff.UnloadPlugin(path); !ok || err != nil {
			t.Fatalf("UnloadPlugin: %v, %v", ok, err)
		}
		if ok, _ := cff.UnloadPlugin(path); ok {
			t.Fatal("a second UnloadPlugin reported true")
		}
	}
}

func TestABIVersionMatchesHeaderAndLibrary(t *testing.T) {
	m := regexp.MustCompile(`(?m)^#define CFF_ABI_VERSION (\d+)`).FindStringSubmatch(header(t))
	if m == nil {
		t.Fatal("no CFF_ABI_VERSION in cff.h")
	}
	v, _ := strconv.Atoi(m[1])
	if v != cff.ABIVersion {
		t.Fatalf("cff.h has ABI version %d, the Go binding was written for %d: update it", v, cff.ABIVersion)
	}
	if cff.LibraryABIVersion() != cff.ABIVersion {
		t.Fatalf("library ABI %d", cff.LibraryABIVersion())
	}
	if cff.Version() == "" || cff.TorchVersion() == "" {
		t.Fatal("empty versions")
	}
}

func TestEveryHeaderFunctionIsBound(t *testing.T) {
	var src strings.Builder
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			data, _ := os.ReadFile(f)
			src.Write(data)
		}
	}
	for _, m := range regexp.MustCompile(`CFF_API [^;]*?\b(cff_\w+)\(`).FindAllStringSubmatch(header(t), -1) {
		if !strings.Contains(src.String(), m[1]+"(") {
			t.Errorf("cff.h declares %s, which the Go binding does not call", m[1])
		}
	}
}

func TestABIMismatchIsRefused(t *testing.T) {
	err := cff.CheckABI(cff.ABIVersion, cff.ABIVersion+1)
	var e *cff.Error
	if !errors.As(err, &e) || e.Code != cff.CodeUnsupported || !strings.Contains(e.Message, "ABI version") {
		t.Fatalf("got %v", err)
	}
	if cff.CheckABI(1, 1) != nil {
		t.Fatal("equal versions refused")
	}
}

func TestCreateStepHeadPredictSaveLoad(t *testing.T) {
	m := trainedModel(t)
	defer m.Close()
	if l := must(m.NumLayers()); l != 2 {
		t.Fatal(l)
	}
	if c, h, w, err := m.InputShape(); err != nil || c != 1 || h != 8 || w != 8 {
		t.Fatal(c, h, w, err)
	}
	if d := must(m.Device()); d != "cpu" {
		t.Fatal(d)
	}
	if !strings.Contains(must(m.ConfigJSON()), "embed_dim") {
		t.Fatal("config")
	}
	images, labels := trainingData()
	b := &cff.Batch{Images: images, Shape: [4]int{n, 1, 8, 8}}
	before := must(m.PredictFull(b, 2))
	if len(before.Labels) != n || len(before.Scores) != 2*n || len(before.TopK) != 2*n {
		t.Fatalf("%+v", before)
	}
	for i := 0; i < n; i++ {
		if before.TopK[2*i] != before.Labels[i] || math.Abs(float64(before.Scores[2*i]+before.Scores[2*i+1])-1) > 1e-4 {
			t.Fatalf("row %d: %+v", i, before)
		}
	}
	acc := must(m.Evaluate(&cff.Batch{Images: images, Labels: labels, Shape: b.Shape}, 1, 2))
	if acc[1] != 1 {
		t.Fatal(acc)
	}
	path := filepath.Join(t.TempDir(), "model.cff")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded := must(cff.LoadModel(path, "cpu"))
	defer loaded.Close()
	after := must(loaded.PredictFull(b, 2))
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("reloaded model predicts differently:\n%v\n%v", before, after)
	}
	e1, e2 := must(m.Embed(b, 1)), must(loaded.Embed(b, 1))
	if fmt.Sprint(e1) != fmt.Sprint(e2) || len(e1) != n*16 {
		t.Fatal("embeddings differ")
	}
	fresh := must(cff.NewModelJSON(config))
	defer fresh.Close()
	if err := fresh.LoadState(path); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(must(fresh.PredictFull(b, 2))) != fmt.Sprint(before) {
		t.Fatal("LoadState predicts differently")
	}
}

func TestLayerByLayer(t *testing.T) {
	m := must(cff.NewModelJSON(config))
	images, labels := trainingData()
	lb := must(m.NewLayerBatch(&cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}, true))
	defer lb.Close()
	if _, err := m.TrainLayer(lb, 1); !errors.Is(err, cff.ErrState) {
		t.Fatalf("training layer 1 first: %v", err)
	}
	must(m.TrainLayer(lb, 0))
	must(m.TrainLayer(lb, 1))
	if l := must(lb.NextLayer()); l != 2 {
		t.Fatal(l)
	}
	m.Close() // a layer batch may outlive its model
	m.Close() // and Close twice is fine
}

func expectErr(t *testing.T, err error, code cff.Code, needle string) {
	t.Helper()
	var e *cff.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *cff.Error with %v, got %v", code, err)
	}
	if e.Code != code || !strings.Contains(e.Message, needle) || !strings.Contains(e.Error(), code.String()) {
		t.Fatalf("want %v containing %q, got %v", code, needle, e)
	}
}

func TestErrorsCarryTheLibraryMessage(t *testing.T) {
	_, err := cff.NewModelJSON(`{"model": {"embed_dimm": 3}}`)
	expectErr(t, err, cff.CodeInvalidArgument, "embed_dimm")
	o := must(cff.NewOptions())
	defer o.Close()
	expectErr(t, o.SetEmbedDim(0), cff.CodeInvalidArgument, "embed_dim")
	if err := o.SetDevice("gpu7"); err != nil {
		t.Fatal(err)
	}
	_, err = cff.NewModel(o)
	expectErr(t, err, cff.CodeInvalidArgument, "gpu7")
	closed := must(cff.NewOptions())
	closed.Close()
	_, err = cff.NewModel(closed)
	expectErr(t, err, cff.CodeInvalidArgument, "closed")
	_, err = cff.LoadModel("/nonexistent/model.cff", "")
	expectErr(t, err, cff.CodeIO, "/nonexistent/model.cff")
	if !errors.Is(err, cff.ErrIO) {
		t.Fatal("errors.Is by code")
	}
	junk := filepath.Join(t.TempDir(), "junk.cff")
	os.WriteFile(junk, []byte("not a checkpoint"), 0o644)
	_, err = cff.LoadModel(junk, "")
	expectErr(t, err, cff.CodeFormat, "")
	_, err = cff.LoadIDX("/nonexistent-idx", "train")
	expectErr(t, err, cff.CodeIO, "nonexistent-idx")

	m := must(cff.NewModelJSON(config))
	defer m.Close()
	images, labels := trainingData()
	_, err = m.Predict(&cff.Batch{Images: images, Shape: [4]int{n / 2, 2, 8, 8}})
	expectErr(t, err, cff.CodeInvalidArgument, "")
	_, err = m.Predict(&cff.Batch{Images: images[:100], Shape: [4]int{n, 1, 8, 8}})
	expectErr(t, err, cff.CodeInvalidArgument, "100 elements")
	_, err = m.Predict(&cff.Batch{Images: []int{1}, Shape: [4]int{1, 1, 1, 1}})
	expectErr(t, err, cff.CodeInvalidArgument, "[]int")
	_, err = m.Step(&cff.Batch{Images: images, Labels: labels[:3], Shape: [4]int{n, 1, 8, 8}})
	expectErr(t, err, cff.CodeInvalidArgument, "3 labels")
	bad := make([]int64, n)
	for i := range bad {
		bad[i] = 5
	}
	_, err = m.Step(&cff.Batch{Images: images, Labels: bad, Shape: [4]int{n, 1, 8, 8}})
	expectErr(t, err, cff.CodeInvalidArgument, "")
	_, err = m.PredictFull(&cff.Batch{Images: images, Shape: [4]int{n, 1, 8, 8}}, 3)
	expectErr(t, err, cff.CodeInvalidArgument, "")
	nan := make([]float32, n*64)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	_, err = m.Predict(&cff.Batch{Images: nan, Shape: [4]int{n, 1, 8, 8}})
	expectErr(t, err, cff.CodeNumerics, "")
	// A closed model reports the library's own message, never crashes.
	m.Close()
	_, err = m.Predict(&cff.Batch{Images: images, Shape: [4]int{n, 1, 8, 8}})
	expectErr(t, err, cff.CodeInvalidArgument, "")
}

func TestDatasetsAndFit(t *testing.T) {
	images, labels := trainingData()
	d := must(cff.NewDataset(&cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}, 2))
	defer d.Close()
	info := must(d.Info())
	if info != (cff.DatasetInfo{Count: n, Channels: 1, Height: 8, Width: 8, DType: cff.Uint8, NumClasses: 2}) {
		t.Fatalf("%+v", info)
	}
	if got := must(d.ImagesUint8(2, 3)); string(got) != string(images[2*64:5*64]) {
		t.Fatal("images")
	}
	if f := must(d.ImagesFloat32(0, 1)); math.Abs(float64(f[0])-float64(images[0])/255) > 1e-6 {
		t.Fatal("float images")
	}
	if l := must(d.Labels(0, 4)); fmt.Sprint(l) != "[0 1 0 1]" {
		t.Fatal(l)
	}
	s := must(d.Slice(4, 8))
	if must(s.Info()).Count != 8 || must(d.ClassName(1)) != "1" {
		t.Fatal("slice/class name")
	}
	s.Close()

	m := must(cff.NewModelJSON(config))
	defer m.Close()
	calls := 0
	stopped, err := m.Fit(d, "", func(p cff.ProgressInfo) bool {
		calls++
		if p.Message == "" || p.Stage < 1 {
			t.Errorf("progress %+v", p)
		}
		return calls < 2
	})
	if err != nil || !stopped || calls != 2 {
		t.Fatal(stopped, err, calls)
	}
	acc := must(m.EvaluateDataset(d, 1))
	if acc[0] < 0 || acc[0] > 1 {
		t.Fatal(acc)
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
				t.Fatalf("recovered %v", r)
			}
		}()
		m.Fit(d, "", func(cff.ProgressInfo) bool { panic("boom") })
	}()
	// The model is still usable after the panic was carried across the library.
	must(m.Predict(&cff.Batch{Images: images, Shape: [4]int{n, 1, 8, 8}}))
}

func TestProvidersAndConcurrency(t *testing.T) {
	losses := must(cff.Providers(cff.ProviderLoss))
	found := false
	for _, p := range losses {
		found = found || (p.Name == "mcl" && p.Origin == "built-in")
	}
	if !found {
		t.Fatalf("%+v", losses)
	}
	expectErr(t, cff.DeviceCheck("tpu"), cff.CodeInvalidArgument, "tpu")
	m := trainedModel(t)
	defer m.Close()
	b := &cff.Batch{Images: probeImages(), Shape: [4]int{8, 1, 8, 8}}
	want := fmt.Sprint(must(m.Predict(b)))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := m.Predict(b); err != nil || fmt.Sprint(got) != want {
				t.Errorf("goroutine: %v %v", got, err)
			}
		}()
	}
	wg.Wait()
}

// Cross-binding check, driven by tests/bindings (CFF_CROSS_DIR, CFF_CROSS_MODE, CFF_CROSS_MODELS).
func TestCrossBinding(t *testing.T) {
	dir, mode := os.Getenv("CFF_CROSS_DIR"), os.Getenv("CFF_CROSS_MODE")
	if dir == "" || mode == "" {
		t.Skip("CFF_CROSS_DIR/CFF_CROSS_MODE not set")
	}
	b := &cff.Batch{Images: probeImages(), Shape: [4]int{8, 1, 8, 8}}
	if mode == "write" {
		m := trainedModel(t)
		defer m.Close()
		if err := m.Save(filepath.Join(dir, "go.cff")); err != nil {
			t.Fatal(err)
		}
		p := must(m.PredictFull(b, 2))
		var sb strings.Builder
		sb.WriteString("labels")
		for _, l := range p.Labels {
			fmt.Fprintf(&sb, " %d", l)
		}
		sb.WriteString("\nscores")
		for _, s := range p.Scores {
			fmt.Fprintf(&sb, " %.9e", s)
		}
		sb.WriteString("\n")
		if err := os.WriteFile(filepath.Join(dir, "go.expect"), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, name := range strings.Split(os.Getenv("CFF_CROSS_MODELS"), ",") {
		m := must(cff.LoadModel(filepath.Join(dir, name+".cff"), "cpu"))
		got := must(m.PredictFull(b, 2))
		m.Close()
		data := must(os.ReadFile(filepath.Join(dir, name+".expect")))
		lines := strings.Split(string(data), "\n")
		labels, scores := strings.Fields(lines[0])[1:], strings.Fields(lines[1])[1:]
		if len(labels) != len(got.Labels) || len(scores) != len(got.Scores) {
			t.Fatalf("%s: sizes differ", name)
		}
		for i, l := range labels {
			if v, _ := strconv.ParseInt(l, 10, 64); v != got.Labels[i] {
				t.Fatalf("%s: label %d: %d vs %d", name, i, v, got.Labels[i])
			}
		}
		for i, s := range scores {
			if v, _ := strconv.ParseFloat(s, 32); math.Abs(v-float64(got.Scores[i])) > 1e-6 {
				t.Fatalf("%s: score %d: %v vs %v", name, i, v, got.Scores[i])
			}
		}
		t.Logf("go: the model %s saved predicts the same", name)
	}
}

// Misuse returns the library's error; nothing panics (issue: Go panics on nil, negative shapes,
// empty batches).
func TestMisuseReturnsErrorsNotPanics(t *testing.T) {
	m := must(cff.NewModelJSON(config))
	defer m.Close()
	images, labels := trainingData()
	good := &cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}
	var nilModel *cff.Model
	_, err := m.Predict(nil)
	expectErr(t, err, cff.CodeInvalidArgument, "the batch is nil")
	_, err = nilModel.Predict(good)
	expectErr(t, err, cff.CodeInvalidArgument, "model is NULL")
	_, err = nilModel.Step(good)
	expectErr(t, err, cff.CodeInvalidArgument, "model is NULL")
	expectErr(t, nilModel.Save(filepath.Join(t.TempDir(), "m.cff")), cff.CodeInvalidArgument, "model is NULL")
	_, err = m.Predict(&cff.Batch{Images: images, Shape: [4]int{-1, 1, 8, 8}})
	expectErr(t, err, cff.CodeInvalidArgument, "negative size")
	_, err = m.Predict(&cff.Batch{Images: images, Shape: [4]int{math.MaxInt / 2, 1, 8, 8}})
	expectErr(t, err, cff.CodeInvalidArgument, "overflows")
	empty := &cff.Batch{Images: []uint8{}, Labels: []int64{}, Shape: [4]int{0, 1, 8, 8}}
	_, err = m.Predict(empty)
	expectErr(t, err, cff.CodeInvalidArgument, "batch.count must be >= 1")
	_, err = m.Step(empty)
	expectErr(t, err, cff.CodeInvalidArgument, "batch.count must be >= 1")
	_, err = m.PredictFull(empty, 1)
	expectErr(t, err, cff.CodeInvalidArgument, "batch.count must be >= 1")
	var nilData *cff.Dataset
	_, err = m.EvaluateDataset(nilData, 1)
	expectErr(t, err, cff.CodeInvalidArgument, "dataset is NULL")
	_, err = m.Fit(nilData, "", nil)
	expectErr(t, err, cff.CodeInvalidArgument, "is NULL")
	_, err = m.TrainLayer(nil, 0)
	expectErr(t, err, cff.CodeInvalidArgument, "layer_batch is NULL")
	d := must(cff.NewDataset(good, 2))
	defer d.Close()
	_, err = d.Labels(0, math.MaxInt/2)
	expectErr(t, err, cff.CodeInvalidArgument, "outside")
	_, err = d.ImagesUint8(0, math.MaxInt/2)
	expectErr(t, err, cff.CodeInvalidArgument, "outside")
}

// Close while other goroutines are inside calls on the same model: those calls finish or fail
// with "not a live handle"; nothing crashes (the library destroys the model after the last call).
func TestCloseDuringCallsOnOtherGoroutines(t *testing.T) {
	images, labels := trainingData()
	b := &cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}
	for round := 0; round < 5; round++ {
		m := must(cff.NewModelJSON(config))
		var wg sync.WaitGroup
		started := make(chan struct{}, 3)
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				started <- struct{}{}
				for {
					var err error
					if _, err = m.Step(b); err == nil {
						_, err = m.Predict(b)
					}
					if err != nil {
						var e *cff.Error
						if !errors.As(err, &e) || e.Code != cff.CodeInvalidArgument ||
							!(strings.Contains(e.Message, "not a live handle") || strings.Contains(e.Message, "model is NULL")) {
							t.Errorf("after Close: %v", err)
						}
						return
					}
				}
			}()
		}
		for g := 0; g < 3; g++ {
			<-started
		}
		m.Close()
		wg.Wait()
	}
}

func rssMiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	kb, _ := strconv.Atoi(string(m[1]))
	return kb / 1024
}

// 2,000 models created and closed, 5,000 predictions: the RSS must not keep growing (one model of
// this size holds about 100 KiB: 2,000 kept alive add 196 MiB).
func TestModelsAndPredictsDoNotLeak(t *testing.T) {
	const boundMiB = 8
	images, labels := trainingData()
	cycle := func(models, predicts int) {
		for i := 0; i < models; i++ {
			must(cff.NewModelJSON(config)).Close()
		}
		m := must(cff.NewModelJSON(config))
		defer m.Close()
		must(m.Step(&cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}))
		for i := 0; i < predicts; i++ {
			must(m.Predict(&cff.Batch{Images: images, Shape: [4]int{n, 1, 8, 8}}))
		}
	}
	cycle(200, 500) // warm-up: the allocator's pools and LibTorch's caches fill once
	runtime.GC()
	before := rssMiB(t)
	cycle(2000, 5000)
	runtime.GC()
	growth := rssMiB(t) - before
	t.Logf("RSS %d MiB before, growth %+d MiB over 2,000 models and 5,000 predictions", before, growth)
	if growth >= boundMiB {
		t.Fatalf("RSS grew by %d MiB (bound %d MiB)", growth, boundMiB)
	}
}

// Models dropped without Close: each counts its parameters' C memory (weights, gradients and
// AdamW moments) towards the binding's next collection, so 500 unclosed MLP[256 2] models
// (1 MiB of weights each) stay far below the 500 MiB they would hold without it.
func TestUnclosedModelsDoNotPileUp(t *testing.T) {
	const cfg = `{"model": {"embed_dim": 256, "num_layers": 2, "height": 28, "width": 28, "num_classes": 10},
	  "train": {"device": "cpu", "threads": 1}}`
	before := rssMiB(t)
	peak := before
	for i := 0; i < 500; i++ {
		must(cff.NewModelJSON(cfg)) // never closed
		if i%25 == 0 {
			if r := rssMiB(t); r > peak {
				peak = r
			}
		}
	}
	t.Logf("RSS %d MiB before, peak %d MiB during 500 unclosed models", before, peak)
	if peak-before > 200 {
		t.Fatalf("RSS grew by %d MiB", peak-before)
	}
}

// Datasets dropped without Close: the binding starts a collection every 64 MiB of new C memory,
// so 2,000 unclosed 1,000-image slices (1.5 GiB in all) stay far below that in RSS.
func TestUnclosedDatasetsDoNotPileUp(t *testing.T) {
	const count, side = 1000, 28
	images := make([]uint8, count*side*side)
	labels := make([]int64, count)
	for i := range labels {
		labels[i] = int64(i % 2)
	}
	d := must(cff.NewDataset(&cff.Batch{Images: images, Labels: labels, Shape: [4]int{count, 1, side, side}}, 2))
	defer d.Close()
	before := rssMiB(t)
	peak := before
	for i := 0; i < 2000; i++ {
		must(d.Slice(0, count)) // never closed
		if i%100 == 0 {
			if r := rssMiB(t); r > peak {
				peak = r
			}
		}
	}
	t.Logf("RSS %d MiB before, peak %d MiB during 2000 unclosed slices of %d MiB in all", before, peak,
		2000*count*(side*side+8)>>20)
	if peak-before > 500 {
		t.Fatalf("RSS grew by %d MiB", peak-before)
	}
}

// What a host that trains step by step gets: batches, normalisation, an lr scale and the schedule.
func TestStepHostsGetBatchesNormalizationAndAnLRScale(t *testing.T) {
	images, labels := trainingData()
	d := must(cff.NewDataset(&cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}, 2))
	mean, std, err := d.Normalization()
	if err != nil || len(mean) != 1 || std[0] <= 0 {
		t.Fatalf("normalization: %v %v %v", mean, std, err)
	}
	it := must(d.Batches(5, 3, true))
	defer it.Close()
	d.Close() // the iterator keeps its own reference
	var counts []int
	for {
		px, lb, _, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if lb == nil {
			break
		}
		counts = append(counts, len(lb))
		if len(px) != len(lb)*64 {
			t.Fatalf("%d pixels for %d labels", len(px), len(lb))
		}
	}
	if fmt.Sprint(counts) != "[5 5 5 1]" {
		t.Fatalf("batch sizes %v", counts)
	}
	m := must(cff.NewModelJSON(config))
	defer m.Close()
	before := must(m.PredictFull(&cff.Batch{Images: images, Shape: [4]int{n, 1, 8, 8}}, 1))
	if err := m.SetLRScale(0); err != nil {
		t.Fatal(err)
	}
	must(m.Step(&cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}))
	after := must(m.PredictFull(&cff.Batch{Images: images, Shape: [4]int{n, 1, 8, 8}}, 1))
	if fmt.Sprint(before.Scores) != fmt.Sprint(after.Scores) {
		t.Fatal("a step at lr scale 0 moved the weights")
	}
	if err := m.SetLRScale(-1); !errors.Is(err, cff.ErrInvalidArgument) {
		t.Fatalf("negative scale: %v", err)
	}
	if s, err := cff.LRScheduleScale(true, 5, 10); err != nil || math.Abs(s-0.5) > 1e-12 {
		t.Fatalf("cosine at half way: %v %v", s, err)
	}
	if _, _, err := cff.DiscoverPlugins(); err != nil {
		t.Fatal(err)
	}
}

// A model that remembers a different file of its plugin loads, with a warning to the handler.
func TestLogHandlerReceivesTheLibraryWarnings(t *testing.T) {
	path := os.Getenv("CFF_TEST_PLUGIN")
	if path == "" {
		t.Skip("CFF_TEST_PLUGIN not set (ctest sets it)")
	}
	must(cff.LoadPlugin(path))
	cfg := fmt.Sprintf(`{"model": {"embed_dim": 16, "num_layers": 2, "height": 8, "width": 8, "num_classes": 2},
	  "train": {"device": "cpu", "threads": 1, "loss": "cosine-margin", "plugins": [{"file": %q,
	  "provider": "cosine-margin", "kind": "loss", "hash": "0000000000000000"}]}}`, filepath.Base(path))
	var mu sync.Mutex
	var got []string
	cff.SetLogHandler(func(level int, message string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%d %s", level, message))
	})
	must(cff.NewModelJSON(cfg)).Close()
	cff.SetLogHandler(nil)
	if len(got) != 1 || !strings.HasPrefix(got[0], "2 ") || !strings.Contains(got[0], "differs from the "+filepath.Base(path)) {
		t.Fatalf("log: %q", got)
	}
	must(cff.NewModelJSON(cfg)).Close() // no handler: nothing fails
}

func TestThePipelineTrainsWhatFitTrains(t *testing.T) {
	images, labels := trainingData()
	b := &cff.Batch{Images: images, Labels: labels, Shape: [4]int{n, 1, 8, 8}}
	d := must(cff.NewDataset(b, 2))
	defer d.Close()
	const c = `{"model": {"embed_dim": 16, "num_layers": 3, "height": 8, "width": 8, "num_classes": 2},
	  "train": {"device": "cpu", "seed": 3, "threads": 1, "blas_threads": 1, "precision": "fp32",
	            "batch_size": 8, "epochs": 2, "head_epochs": 1}}`
	sequential, piped := must(cff.NewModelJSON(c)), must(cff.NewModelJSON(c))
	defer sequential.Close()
	defer piped.Close()
	if err := piped.SetParallel(`{"pipeline": true, "stage": 2}`); err == nil || !strings.Contains(err.Error(), "unknown key parallel.stage") {
		t.Fatal(err)
	}
	if err := piped.SetParallel(`{"pipeline": true, "stages": 2, "queue_depth": 1}`); err != nil {
		t.Fatal(err)
	}
	if _, err := sequential.Fit(d, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := piped.Fit(d, "", nil); err != nil {
		t.Fatal(err)
	}
	a, p := must(sequential.PredictFull(b, 1)), must(piped.PredictFull(b, 1))
	if fmt.Sprint(a.Scores) != fmt.Sprint(p.Scores) {
		t.Fatal("pipelined scores differ", a.Scores, p.Scores)
	}
}
