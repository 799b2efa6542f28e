// Package all imports every archbench architecture for its registration side effect.
package all
