#include <stdio.h>

int main(void)
{
	puts("cvisor");
	return 0;
}
