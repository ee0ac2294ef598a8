# mk/fasttext.mk -- seqcls's fastText classifier beside fastText itself.
#
#   make bench-fasttext    bench/fasttext_compare.sh: the language of a word from the Debian
#                          word lists, `seqcls train --arch meanpool --minn 2 --maxn 5` and
#                          `fasttext supervised` with the same settings, one thread each:
#                          accuracy, wall and CPU time (installs fasttext and the lists as root)
#   make bench-chars       bench/char_task.py: the same task with the command line's defaults,
#                          then with --tokens char, beside PyTorch with the same network
#
# Not part of make check (minutes, and packages seqcls does not need).

.PHONY: bench-fasttext bench-chars

bench-fasttext: all
	sh bench/fasttext_compare.sh

bench-chars: all
	sh tools/ensure-deps.sh wamerican wngerman wfrench witalian wspanish wportuguese wdutch \
	    wswedish python3-torch
	/usr/bin/python3 bench/char_task.py
