//go:build race

package relman

// raceEnabled shortens the slowest randomized tests under the race detector.
const raceEnabled = true
