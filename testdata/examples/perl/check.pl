#!/usr/bin/perl
# Run inside the jail by testdata/examples/perl.yaml: core modules, pure
# Perl (Data::Dumper's fallback, File::Temp) and XS (List::Util, POSIX,
# Digest::MD5), each printing one line; "all ok" at the end.
use strict;
use warnings;
use Data::Dumper;
use Digest::MD5 qw(md5_hex);
use File::Temp qw(tempfile);
use List::Util qw(sum max);
use POSIX qw(floor setlocale LC_ALL);

my $failed = 0;
sub check {
    my ($name, $got, $want) = @_;
    my $ok = $got eq $want;
    $failed++ unless $ok;
    print(($ok ? "ok" : "not ok"), " - $name", ($ok ? "" : " (got '$got', want '$want')"), "\n");
}

check("List::Util sum", sum(1 .. 10), 55);
check("List::Util max", max(3, 9, 4), 9);
check("POSIX floor", floor(-2.5), -3);
check("POSIX setlocale C.UTF-8", setlocale(LC_ALL, "C.UTF-8") // "", "C.UTF-8");
check("Digest::MD5", md5_hex("jailer"), "ea0817b725b30b9e0cbf71fa4661e554");
local $Data::Dumper::Terse = 1;
local $Data::Dumper::Indent = 0;
local $Data::Dumper::Sortkeys = 1;
check("Data::Dumper", Dumper({ b => [1, 2], a => "x" }), q({'a' => 'x','b' => [1,2]}));
my ($fh, $name) = tempfile(DIR => "/tmp", UNLINK => 1);
print $fh "line\n";
close $fh;
check("File::Temp", -s $name, 5);

print $failed ? "$failed failed\n" : "all ok\n";
exit($failed ? 1 : 0);
