package redis

// LocalLen is the number of answers r holds locally (token IDs and
// subjects).
func LocalLen(r *Revocations) int { return r.ids.Len() + r.subjects.Len() }
