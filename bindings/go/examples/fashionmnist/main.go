// Command fashionmnist trains a small CFF+M model on part of Fashion-MNIST step by step, saves
// it, reloads it and predicts a few test images.
//
//	go run ./examples/fashionmnist [-data DIR] [-limit N] [-epochs N]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"libcff.org/cff"
)

func main() {
	data := flag.String("data", "/usr/share/datasets/fashion-mnist", "IDX folder in MNIST layout")
	limit := flag.Int("limit", 4096, "training images to use")
	epochs := flag.Int("epochs", 2, "epochs of each stage")
	flag.Parse()
	if err := run(*data, *limit, *epochs); err != nil {
		log.Fatal(err)
	}
}

func run(folder string, limit, epochs int) error {
	fmt.Printf("libcff %s (ABI %d, LibTorch %s)\n", cff.Version(), cff.LibraryABIVersion(), cff.TorchVersion())
	train, err := cff.LoadIDX(folder, "train")
	if err != nil {
		return err
	}
	defer train.Close()
	test, err := cff.LoadIDX(folder, "test")
	if err != nil {
		return err
	}
	defer test.Close()
	info, err := train.Info()
	if err != nil {
		return err
	}
	if limit > info.Count {
		limit = info.Count
	}

	options, err := cff.NewOptions()
	if err != nil {
		return err
	}
	defer options.Close()
	for _, set := range []error{
		options.SetEmbedDim(128), options.SetNumLayers(2),
		options.SetInputShape(info.Channels, info.Height, info.Width),
		options.SetNumClasses(info.NumClasses), options.SetDevice("cpu"), options.SetSeed(1),
	} {
		if set != nil {
			return set
		}
	}
	model, err := cff.NewModel(options)
	if err != nil {
		return err
	}
	defer model.Close()

	pixels := info.Channels * info.Height * info.Width
	images, err := train.ImagesUint8(0, limit)
	if err != nil {
		return err
	}
	labels, err := train.Labels(0, limit)
	if err != nil {
		return err
	}
	const batchSize = 256
	for stage := 1; stage <= 2; stage++ {
		for epoch := 1; epoch <= epochs; epoch++ {
			sum, batches := 0.0, 0
			for start := 0; start+2 <= limit; start += batchSize {
				end := min(start+batchSize, limit)
				b := &cff.Batch{Images: images[start*pixels : end*pixels], Labels: labels[start:end],
					Shape: [4]int{end - start, info.Channels, info.Height, info.Width}}
				if stage == 1 {
					losses, err := model.Step(b)
					if err != nil {
						return err
					}
					for _, l := range losses {
						sum += l
					}
				} else {
					loss, err := model.HeadStep(b)
					if err != nil {
						return err
					}
					sum += loss
				}
				batches++
			}
			fmt.Printf("stage %d epoch %d: mean loss %.4f\n", stage, epoch, sum/float64(batches))
		}
	}
	part, err := test.Slice(0, 2000)
	if err != nil {
		return err
	}
	defer part.Close()
	acc, err := model.EvaluateDataset(part, 1, 5)
	if err != nil {
		return err
	}
	fmt.Printf("test top-1 %.1f%%, top-5 %.1f%% (2000 images)\n", 100*acc[0], 100*acc[1])

	path := filepath.Join(os.TempDir(), "cff-go-example.cff")
	if err := model.Save(path); err != nil {
		return err
	}
	reloaded, err := cff.LoadModel(path, "")
	if err != nil {
		return err
	}
	defer reloaded.Close()
	probe, err := test.ImagesUint8(0, 5)
	if err != nil {
		return err
	}
	predicted, err := reloaded.Predict(&cff.Batch{Images: probe, Shape: [4]int{5, info.Channels, info.Height, info.Width}})
	if err != nil {
		return err
	}
	truth, err := test.Labels(0, 5)
	if err != nil {
		return err
	}
	for i := range predicted {
		p, _ := test.ClassName(int(predicted[i]))
		t, _ := test.ClassName(int(truth[i]))
		fmt.Printf("predicted %-12s actual %s\n", p, t)
	}
	return nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
