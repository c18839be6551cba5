#!/usr/bin/perl
# A plain perl job for ckpt (Debian's interpreter): counts to N keeping
# its state in blessed hashes, a hash of arrays and a string.  Like
# loop.py: $CKPT_READY after about 1.5 s of work, dumped while it runs,
# waits for $CKPT_GO at the end, checks its state against closed forms,
# prints the totals and reports the longest pause it saw.  It counts to N
# or to 3 times the count it was ready at, whichever is less (and says
# which): the work left after the dump is about 3 s of this machine's.
# Usage: loop.pl [N]
use strict;
use warnings;
use Time::HiRes qw(time sleep);

package Acc;

sub new {
	my ($class, $key) = @_;
	return bless { key => $key, n => 0, total => 0, by_rest => {} }, $class;
}

sub add {
	my ($self, $i) = @_;
	$self->{n}++;
	$self->{total} += $i;
	$self->{by_rest}{$i % 7}++;
}

package main;

my $n = $ARGV[0] // 6000000;
my ($ready_file, $go_file) = ($ENV{CKPT_READY}, $ENV{CKPT_GO});
my @accs = map { Acc->new($_) } 0 .. 12;
my %words;
my $trail = '';
my $t0 = time;
my $last = $t0;
my ($ready_at, $pause, $pause_at) = (0, 0, 0);

for my $i (1 .. $n) {
	last if $i > $n;
	$accs[$i % 13]->add($i);
	my $w = 'w' . ($i % 1000);
	$words{$w}[0] += $i;
	$words{$w}[1]++;
	$trail .= chr(97 + $i % 26);
	$trail = substr($trail, -64) if length($trail) > 128;
	next if $i % 1000;
	my $now = time;
	($pause, $pause_at) = ($now - $last, $i) if $now - $last > $pause;
	$last = $now;
	if (!$ready_at && $now - $t0 >= 1.5) {
		$ready_at = $i;
		$n = 3 * $i if 3 * $i < $n;
		if (defined $ready_file) {
			open(my $fh, '>', $ready_file) or die "$ready_file: $!";
			close($fh);
		}
	}
}
sleep(0.01) while defined $go_file && !-e $go_file;

my @fail;
my $want = $n * ($n + 1) / 2;
my ($cnt, $tot, $wsum, $wcnt) = (0, 0, 0, 0);
for my $a (@accs) {
	$cnt += $a->{n};
	$tot += $a->{total};
	my $r = 0;
	$r += $_ for values %{ $a->{by_rest} };
	my $k = $a->{key} || 13;
	my $expect = $k > $n ? 0 : int(($n - $k) / 13) + 1;
	push @fail, "accumulator $a->{key} holds $a->{n}, by rest $r" if $r != $a->{n} || $a->{n} != $expect;
}
for my $w (values %words) {
	$wsum += $w->[0];
	$wcnt += $w->[1];
}
push @fail, "counts add up to $cnt" if $cnt != $n;
push @fail, "totals add up to $tot" if $tot != $want;
push @fail, "words: " . scalar(keys %words) . " keys, sum $wsum, count $wcnt"
	if keys %words != 1000 || $wsum != $want || $wcnt != $n;
my $tail = join('', map { chr(97 + $_ % 26) } $n - length($trail) + 1 .. $n);
push @fail, "trail is wrong" if $trail ne $tail;
printf STDERR "perl: ready at %d, longest pause %.3f s at %d of %d\n", $ready_at, $pause, $pause_at, $n;
print STDERR "perl: FAIL: $_\n" for @fail;
printf "perl: total %d words %d n %d\n", $tot, scalar(keys %words), $n;
exit(@fail ? 1 : 0);
