/*
 * startup.S - reset code for @tinyblocks/verify Cortex-M firmware (ARMv6-M compatible Thumb, so
 * one file serves Cortex-M0 to M55). Vector table (QEMU loads SP and PC from address 0), copies
 * .data from flash, zeroes .bss, paints the stack with 0xDEADBEEF for the high-water mark,
 * enables the FPU (CPACR) when the build has one, then calls main and exits via semihosting.
 */
  .syntax unified
  .thumb

  .section .vectors, "a"
  .align 2
  .globl __vectors
__vectors:
  .word __stack_top
  .word Reset_Handler
  .word Fault_Handler /* NMI */
  .word Fault_Handler /* HardFault */
  .word Fault_Handler /* MemManage */
  .word Fault_Handler /* BusFault */
  .word Fault_Handler /* UsageFault */
  .word 0, 0, 0, 0
  .word Fault_Handler /* SVC */
  .word Fault_Handler /* DebugMon */
  .word 0
  .word Fault_Handler /* PendSV */
  .word Fault_Handler /* SysTick */

  .text
  .align 1
  .globl Reset_Handler
  .type Reset_Handler, %function
  .thumb_func
Reset_Handler:
  /* .data: copy from its load address in flash */
  ldr r0, =__data_load
  ldr r1, =__data_start
  ldr r2, =__data_end
1:
  cmp r1, r2
  bhs 2f
  ldr r3, [r0]
  str r3, [r1]
  adds r0, r0, #4
  adds r1, r1, #4
  b 1b
2:
  /* .bss: zero */
  ldr r1, =__bss_start
  ldr r2, =__bss_end
  movs r3, #0
3:
  cmp r1, r2
  bhs 4f
  str r3, [r1]
  adds r1, r1, #4
  b 3b
4:
  /* stack: paint from the end of .bss up to the current SP */
  ldr r1, =__bss_end
  mov r2, sp
  ldr r3, =0xDEADBEEF
5:
  cmp r1, r2
  bhs 6f
  str r3, [r1]
  adds r1, r1, #4
  b 5b
6:
#if defined(__ARM_FP)
  /* CPACR: full access to CP10 and CP11 */
  ldr r0, =0xE000ED88
  ldr r1, [r0]
  ldr r2, =0x00F00000
  orrs r1, r1, r2
  str r1, [r0]
  dsb
  isb
#endif
  bl main
  bl fw_exit
7:
  b 7b
  .size Reset_Handler, . - Reset_Handler

  .align 1
  .globl Fault_Handler
  .type Fault_Handler, %function
  .thumb_func
Fault_Handler:
  movs r0, #0x7f
  bl fw_exit
8:
  b 8b
  .size Fault_Handler, . - Fault_Handler
  .pool
