package data_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
)

type Account struct {
	ID    uint `gorm:"primaryKey"`
	Email string
}

// InTx carries a transaction in the context: the repository-style code
// inside asks the registry for the context's database and joins it.
func Example() {
	db, err := data.Open(data.DBConfig{DSN: app.NewSecret("sqlite::memory:")}, data.OpenParams{})
	if err != nil {
		panic(err)
	}
	_ = db.AutoMigrate(&Account{})
	reg := data.Single(db)
	ctx := context.Background()

	create := func(ctx context.Context, email string) error {
		db, err := reg.DB(ctx) // the transaction, when ctx carries one
		if err != nil {
			return err
		}
		return db.Create(&Account{Email: email}).Error
	}
	err = data.InTx(ctx, reg, func(ctx context.Context) error {
		if err := create(ctx, "ann@example.com"); err != nil {
			return err
		}
		return errors.New("changed my mind") // rolls back
	})
	fmt.Println(err)

	var n int64
	db.Model(&Account{}).Count(&n)
	fmt.Println("accounts:", n)
	// Output:
	// changed my mind
	// accounts: 0
}

// Driver errors come back as data's sentinel errors, whatever the driver.
func Example_errors() {
	db, _ := data.Open(data.DBConfig{DSN: app.NewSecret("sqlite::memory:")}, data.OpenParams{})
	_ = db.Exec("CREATE TABLE users (email TEXT PRIMARY KEY)").Error
	_ = db.Exec("INSERT INTO users VALUES ('ann@example.com')").Error

	err := db.Exec("INSERT INTO users VALUES ('ann@example.com')").Error
	fmt.Println(errors.Is(err, data.ErrConflict))

	var email string
	err = db.Raw("SELECT email FROM users WHERE email = ?", "bob@example.com").Row().Scan(&email)
	fmt.Println(errors.Is(data.Translate(err), data.ErrNotFound))
	// Output:
	// true
	// true
}
