package contextd

import "math"

// The packed form of a large shard's vectors. From binaryFrom rows a shard
// keeps, instead of each vector as int8 (dims bytes), its offset from a
// fixed base vector (the shard's mean when it reached binaryFrom rows) as
// int4 with one scale: dims/2 bytes. The built-in model's vectors share one
// large common direction, so int8 of the whole vector spends most of its
// range on what every vector has; int4 of the offset spends it on what
// tells vectors apart. A query's score is q·base (once per query) plus
// q·offset: the ranking of q·v, with the error of the int4 offsets.

// packedBytes is the bytes of a packed vector of dims dimensions.
func packedBytes(dims int) int { return (dims + 1) / 2 }

// packResidual writes v less base into out as int4 (two per byte, low
// nibble first, in -7..7) and returns its scale.
func packResidual(v, base []float32, out []byte) float32 {
	var amax float32
	for j, x := range v {
		amax = max(amax, float32(math.Abs(float64(x-base[j]))))
	}
	clear(out)
	if amax == 0 {
		return 0
	}
	scale := amax / 7
	for j, x := range v {
		q := int8(math.Round(float64((x - base[j]) / scale)))
		out[j/2] |= byte(q&0x0f) << (4 * (j % 2))
	}
	return scale
}

// unpackResidual writes the vector base + offset·scale into out.
func unpackResidual(p []byte, scale float32, base, out []float32) {
	for j := range out {
		b := p[j/2]
		var q int8
		if j%2 == 0 {
			q = int8(b<<4) >> 4
		} else {
			q = int8(b) >> 4
		}
		out[j] = base[j] + float32(q)*scale
	}
}

// dotPacked is the integer dot product of an int8 query with a packed
// offset of the same dimensions.
func dotPacked(q []int8, p []byte) int32 {
	half := len(q) / 2
	var s0, s1 int32
	for i, b := range p[:half] {
		s0 += int32(q[2*i]) * int32(int8(b<<4)>>4)
		s1 += int32(q[2*i+1]) * int32(int8(b)>>4)
	}
	if len(q)%2 == 1 {
		s0 += int32(q[len(q)-1]) * int32(int8(p[half]<<4)>>4)
	}
	return s0 + s1
}

// floatBits sets bit j of out when v lies above centre in dimension j.
func floatBits(v, centre []float32, out []uint64) {
	clear(out)
	for j, x := range v {
		if x > centre[j] {
			out[j/64] |= 1 << (j % 64)
		}
	}
}
