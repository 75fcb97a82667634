// A user's program against an installed libcff: one training step of a tiny model, then a
// prediction.
package main

import (
	"fmt"
	"os"

	"libcff.org/cff"
)

func main() {
	config := `{"model": {"embed_dim": 8, "num_layers": 2, "height": 4, "width": 4, "num_classes": 2},
	            "train": {"device": "cpu", "seed": 1}}`
	m, err := cff.NewModelJSON(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer m.Close()
	images := make([]uint8, 6*16)
	for i := range images {
		images[i] = uint8(i * 37 % 256)
	}
	labels := []int64{0, 1, 0, 1, 0, 1}
	losses, err := m.Step(&cff.Batch{Images: images, Labels: labels, Shape: [4]int{6, 1, 4, 4}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	predicted, err := m.Predict(&cff.Batch{Images: images, Shape: [4]int{6, 1, 4, 4}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("go user ok: libcff %s, %d layer losses, %d labels\n", cff.Version(), len(losses), len(predicted))
}
