// Package demo walks the story bulwark exists for, against a real
// PostgreSQL, and checks that every step ends in the layer the kit
// promises. `bulwark demo` runs it; its exit status makes it a smoke test.
package demo
