/* berth-monitor: the per-container supervisor (container issue). */
#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "berth-monitor: containers are not supported yet\n");
	return 125;
}
