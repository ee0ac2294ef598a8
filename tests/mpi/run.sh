#!/bin/sh
# tests/mpi/run.sh -- data-parallel training under mpirun on this machine
# (make check-mpi).  Usage: run.sh MPI_FIT SEQCLS WORKDIR, with $MPIRUN the
# launcher and its flags (--oversubscribe, and --allow-run-as-root as root).
#
# 1. mpi_fit (tests/mpi/mpi_fit.c) with 1, 2 and 3 ranks gives the model of
#    one process without MPI up to float rounding: every weight within
#    1e-5 (the ranks add the gradient sums in another order; measured
#    6e-7) but Bahdanau's V.bias, whose gradient is zero (tests/test_comm.c),
#    and every probability within 1e-5;
# 2. the command line: `mpirun -np 2 seqcls train` gives the model of
#    `seqcls train` up to float rounding, also with character n-grams (an
#    embedding bag, whose sparse rows the ranks gather); trained 2 epochs with checkpoints
#    and resumed to 4 it gives the model of 4 epochs in one run, bit for bit
#    with the same ranks, up to rounding with 3;
# 3. a rank killed with SIGKILL ends the job, with mpirun's message, in
#    seconds; a rank that hangs makes the others give up after
#    SEQCLS_MPI_TIMEOUT seconds, each saying why.
set -eu
fit=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
seqcls=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
work=$3
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }

# ---- 1. the library, 1 to 3 ranks against one process ----
"$fit" train ref.sqcl --no-mpi > ref.log
for n in 1 2 3; do
    if $MPIRUN -np $n "$fit" train ranks$n.sqcl > ranks$n.log 2>&1 &&
       "$fit" compare ref.sqcl ranks$n.sqcl 1e-5; then
        ok "$n rank(s) give the model of one process (mpi_fit)"
    else
        cat ranks$n.log
        bad "$n rank(s) against one process (mpi_fit)"
    fi
    grep "^rank 0 " ranks$n.log || true
done

# ---- 2. the command line ----
# 1200 documents of a small made-up sentiment task
awk 'BEGIN { srand(3); split("good great fine superb nice lovely", p, " ");
             split("bad awful poor dull ugly boring", q, " ");
             split("the a movie film plot actor scene story was is and but it this", f, " ");
             for (i = 0; i < 1200; i++) {
                 lab = rand() < 0.5; s = ""; n = 5 + int(rand() * 25);
                 for (j = 0; j < n; j++) {
                     r = rand();
                     w = r < 0.15 ? (lab ? p[1 + int(rand() * 6)] : q[1 + int(rand() * 6)]) : f[1 + int(rand() * 14)];
                     s = s " " w
                 }
                 print "__label__" (lab ? "pos" : "neg") s } }' > docs.txt
args="-i docs.txt --dim 16 --hidden 8 --maxlen 30 --seed 3"
"$seqcls" train $args -o one.sqcl --epochs 3 --threads 1 > one.log
if $MPIRUN -np 2 "$seqcls" train $args -o two.sqcl --epochs 3 > two.log 2>&1 &&
   "$fit" params one.sqcl two.sqcl 1e-5; then
    ok "mpirun -np 2 seqcls train gives the model of seqcls train"
else
    cat two.log
    bad "mpirun -np 2 seqcls train against seqcls train"
fi
if [ "$(grep -c '^epoch ' two.log)" = 3 ] && ! grep -q "rank 1" two.log; then
    ok "rank 0 writes the log, the others nothing"
else
    cat two.log
    bad "the log of mpirun -np 2 seqcls train"
fi
# fastText's subwords: an embedding bag, whose rows the ranks gather
sub="-i docs.txt --arch meanpool --dim 16 --maxlen 30 --seed 3 --minn 2 --maxn 4 --bucket 5000"
"$seqcls" train $sub -o sub1.sqcl --epochs 3 --threads 1 > sub1.log
if $MPIRUN -np 2 "$seqcls" train $sub -o sub2.sqcl --epochs 3 --threads 1 > sub2.log 2>&1 &&
   "$fit" params sub1.sqcl sub2.sqcl 1e-5; then
    ok "mpirun -np 2 seqcls train --minn 2 --maxn 4 gives the model of seqcls train"
else
    cat sub2.log
    bad "mpirun -np 2 seqcls train with character n-grams against seqcls train"
fi
$MPIRUN -np 2 "$seqcls" train $args -o whole.sqcl --epochs 4 > whole.log 2>&1
$MPIRUN -np 2 "$seqcls" train $args -o half.sqcl --epochs 2 --checkpoint-every 1 > half.log 2>&1
for n in 2 3; do
    tol=0
    [ $n = 2 ] || tol=1e-5
    if [ -f half.sqcl.ckpt ] && [ -f half.sqcl.ckpt.best ] &&
       $MPIRUN -np $n "$seqcls" train -i docs.txt -o resumed$n.sqcl --resume half.sqcl.ckpt \
           --epochs 4 > resumed$n.log 2>&1 &&
       "$fit" params whole.sqcl resumed$n.sqcl $tol; then
        ok "2 epochs, a checkpoint, resumed to 4 with $n ranks = 4 in one run (tolerance $tol)"
    else
        cat half.log resumed$n.log 2>/dev/null || true
        bad "resume with $n ranks"
    fi
done

# ---- 3. faults ----
start=$(date +%s)
if $MPIRUN -np 3 "$fit" train dead.sqcl --die-at 5 > dead.log 2>&1; then
    bad "a rank killed itself, yet the job succeeded"
elif [ $(($(date +%s) - start)) -lt 60 ] && grep -q "exited on signal 9" dead.log; then
    ok "a killed rank ends the job in $(($(date +%s) - start)) s with mpirun's message"
else
    cat dead.log
    bad "a killed rank"
fi
start=$(date +%s)
if SEQCLS_MPI_TIMEOUT=2 $MPIRUN -np 3 "$fit" train hung.sqcl --hang-at 5 > hung.log 2>&1; then
    bad "a rank hung, yet the job succeeded"
elif [ $(($(date +%s) - start)) -lt 60 ] &&
     grep -q "rank 0 of 3: training: .*no answer from the other ranks in 2 s" hung.log; then
    ok "a hung rank: the others give up after 2 s, saying why"
else
    cat hung.log
    bad "a hung rank"
fi
# the command line, a rank killed from outside in the middle of training
rm -f kill.log
$MPIRUN -np 3 "$seqcls" train $args -o killed.sqcl --epochs 1000 --checkpoint-every 1 \
    > kill.log 2> kill.err &
pid=$!
i=0
while ! grep -q "^epoch 2/" kill.log 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
start=$(date +%s)
victim=$(pgrep -P $pid seqcls | tail -n 1 || true)
[ -n "$victim" ] && kill -9 "$victim"
if wait $pid; then
    bad "seqcls train: a rank was killed, yet the job succeeded"
elif [ -n "$victim" ] && [ $(($(date +%s) - start)) -lt 60 ] &&
     grep -q "exited on signal 9" kill.err && [ ! -f killed.sqcl ] &&
     [ -f killed.sqcl.ckpt ]; then
    ok "seqcls train: a killed rank ends the job in $(($(date +%s) - start)) s, the checkpoint kept"
    grep "stopped by a signal" kill.err || true
else
    cat kill.log kill.err
    bad "seqcls train with a killed rank"
fi

echo "check-mpi: $passed passed, $failed failed"
[ $failed = 0 ]
