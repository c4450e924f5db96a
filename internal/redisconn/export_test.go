package redisconn

import "github.com/redis/rueidis"

// Subscribers is the number of Locals fed by c's invalidations.
func Subscribers(c rueidis.Client) int {
	if subs := c.(*client).inv.subs.Load(); subs != nil {
		return len(*subs)
	}
	return 0
}
