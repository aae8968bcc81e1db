/** Cortex-M targets: compiler flags and the QEMU machine (checked to boot bare-metal ELF images). */

export const CORTEX_M_TARGETS = ['cortex-m0', 'cortex-m3', 'cortex-m4', 'cortex-m7', 'cortex-m55'] as const;
export type CortexMTarget = (typeof CORTEX_M_TARGETS)[number];

export interface CortexMTargetInfo {
  target: CortexMTarget;
  /** qemu-system-arm -M */
  machine: string;
  /** qemu-system-arm -cpu */
  cpu: string;
  /** arm-none-eabi-gcc architecture flags. */
  cflags: string[];
  flash: { origin: number; length: number };
  ram: { origin: number; length: number };
}

const MPS2_FLASH = { origin: 0x0, length: 4 << 20 };
const MPS2_RAM = { origin: 0x20000000, length: 4 << 20 };

export const TARGET_INFO: Record<CortexMTarget, CortexMTargetInfo> = {
  'cortex-m0': {
    target: 'cortex-m0',
    machine: 'microbit',
    cpu: 'cortex-m0',
    cflags: ['-mcpu=cortex-m0', '-mthumb', '-mfloat-abi=soft'],
    // nRF51822: 256 KB flash, 16 KB RAM
    flash: { origin: 0x0, length: 256 << 10 },
    ram: { origin: 0x20000000, length: 16 << 10 },
  },
  'cortex-m3': { target: 'cortex-m3', machine: 'mps2-an385', cpu: 'cortex-m3', cflags: ['-mcpu=cortex-m3', '-mthumb', '-mfloat-abi=soft'], flash: MPS2_FLASH, ram: MPS2_RAM },
  'cortex-m4': {
    target: 'cortex-m4',
    machine: 'mps2-an386',
    cpu: 'cortex-m4',
    cflags: ['-mcpu=cortex-m4', '-mthumb', '-mfpu=fpv4-sp-d16', '-mfloat-abi=hard'],
    flash: MPS2_FLASH,
    ram: MPS2_RAM,
  },
  'cortex-m7': {
    target: 'cortex-m7',
    machine: 'mps2-an500',
    cpu: 'cortex-m7',
    cflags: ['-mcpu=cortex-m7', '-mthumb', '-mfpu=fpv5-d16', '-mfloat-abi=hard'],
    flash: MPS2_FLASH,
    ram: MPS2_RAM,
  },
  'cortex-m55': {
    target: 'cortex-m55',
    machine: 'mps3-an547',
    cpu: 'cortex-m55',
    cflags: ['-mcpu=cortex-m55', '-mthumb', '-mfloat-abi=hard'],
    // ITCM / DTCM, 512 KB each
    flash: { origin: 0x0, length: 512 << 10 },
    ram: { origin: 0x20000000, length: 512 << 10 },
  },
};
