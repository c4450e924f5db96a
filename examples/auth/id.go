package main

import "crypto/rand"

// newID returns a random user ID.
func newID() string { return "u_" + rand.Text() }
