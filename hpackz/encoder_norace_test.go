//go:build !race

package hpackz

const encRaceEnabled = false
