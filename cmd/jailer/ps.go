package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/jail/runs"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list the running jails (yours; root sees every user's)",
		Flags: []cli.Flag{newJSONFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("ps takes no arguments (see jailer ps --help)")
			}
			list := runs.List()
			if wantJSON(c) {
				if list == nil {
					list = []*runs.Record{}
				}
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(list)
			}
			root := os.Geteuid() == 0
			w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			header := "ID\tTREE\tCOMMAND\tPID\tSTARTED\tLIMITS"
			if root {
				header += "\tOWNER"
			}
			fmt.Fprintln(w, header)
			for _, r := range list {
				line := fmt.Sprintf("%s\t%s\t%s\t%d\t%s\t%s", r.ID, printable(r.Tree), printable(strings.Join(r.Command, " ")), r.PID, r.Started.Local().Format("2006-01-02 15:04:05"), r.Limits)
				if root {
					line += "\t" + userName(r.Owner)
				}
				fmt.Fprintln(w, line)
			}
			return w.Flush()
		},
	}
}

// userName is uid's login name, else the number.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// printable is s for a terminal: a record's tree and command are what its
// user wrote (root lists every user's), and a control character in them
// (an escape sequence that moves the cursor, erases a line, sets the
// window's title; a tab that shifts the columns) is shown as Go quotes
// it, not sent to the terminal.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '\t' || !unicode.IsPrint(r) && r != ' ' }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
