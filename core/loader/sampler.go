package loader

import (
	"math/rand/v2"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Order returns this rank's sample indices for one epoch. base lists the
// dataset indices to draw from (a subset, or all samples). With several
// ranks the list is cut like torch's DistributedSampler: padded by repeating
// from the start (or truncated with dropLast) to a multiple of worldSize, then
// rank takes every worldSize-th element.
func Order(base []int, shuffle bool, seed uint64, epoch, rank, worldSize int, dropLast bool) ([]int, error) {
	if worldSize <= 0 {
		worldSize = 1
	}
	if rank < 0 || rank >= worldSize {
		return nil, errs.Invalidf("rank %d is out of range for world_size %d", rank, worldSize)
	}
	order := append([]int(nil), base...)
	if shuffle {
		rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	if worldSize == 1 {
		return order, nil
	}
	n := len(order)
	total := (n + worldSize - 1) / worldSize * worldSize
	if dropLast {
		total = n / worldSize * worldSize
	}
	for len(order) < total && n > 0 {
		order = append(order, order[:min(n, total-len(order))]...)
	}
	order = order[:total]
	mine := make([]int, 0, total/worldSize)
	for i := rank; i < total; i += worldSize {
		mine = append(mine, order[i])
	}
	return mine, nil
}
