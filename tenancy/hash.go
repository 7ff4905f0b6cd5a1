package tenancy

import "hash/fnv"

// Placement of a key on one of n backends. Both functions are pure and
// stable across processes, machines and versions: a tenant's backend is a
// function of its id and the backend list only. Changing either function
// would move tenants away from their data, which is why hash_test.go pins
// golden placements.
//
//   - Rendezvous (highest random weight) scores every (backend, key) pair
//     and takes the highest. Adding a backend moves only the keys it now
//     wins (about 1/(n+1) of them), removing one moves only its own keys,
//     and the order of the list does not matter: backends are named.
//   - Jump (Lamping and Veach) needs no names and O(log n) time, but only
//     appending a backend at the end is cheap (about 1/(n+1) of keys move);
//     removing or reordering backends moves most keys.

// rendezvous returns the index in names of the backend that key lands on.
// names must not be empty.
func rendezvous(key string, names []string) int {
	kh := hash64(key)
	best, bestScore := 0, uint64(0)
	for i, n := range names {
		score := mix64(kh ^ mix64(hash64(n)))
		if i == 0 || score > bestScore || (score == bestScore && n < names[best]) {
			best, bestScore = i, score
		}
	}
	return best
}

// jump returns the bucket in [0, n) that key lands on. n must be positive.
func jump(key string, n int) int {
	k := mix64(hash64(key))
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		k = k*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((k>>33)+1)))
	}
	return int(b)
}

// place returns the index of the backend key lands on, by algo.
func place(algo, key string, names []string) int {
	if algo == HashJump {
		return jump(key, len(names))
	}
	return rendezvous(key, names)
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix64 is the SplitMix64 finalizer: FNV alone spreads similar keys
// ("tenant-1", "tenant-2") poorly over the high bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
