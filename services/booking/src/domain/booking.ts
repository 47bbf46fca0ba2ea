/** What the booking service knows; plain objects, no framework types. */

export type Clock = () => Date;

export type Role = 'student' | 'teacher' | 'admin';

export interface Actor {
  userId: string;
  role: Role;
}

export const BOOKING_STATUSES = ['hold', 'confirming', 'confirmed', 'rejected', 'canceled', 'expired'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];
/** A live booking occupies its slot; the partial unique index allows one per slot. */
export const LIVE_STATUSES: readonly BookingStatus[] = ['hold', 'confirming', 'confirmed'];

export const SLOT_STATUSES = ['open', 'held', 'booked'] as const;
export type SlotStatus = (typeof SLOT_STATUSES)[number];

export interface Slot {
  id: string;
  teacherId: string;
  startAt: Date;
  endAt: Date;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface SlotView extends Slot {
  status: SlotStatus;
  /** From booking's copy of the teacher's profile; null until identity has told us. */
  teacherDisplayName: string | null;
}

export interface Booking {
  id: string;
  slotId: string;
  studentId: string;
  teacherId: string;
  packageId: string | null;
  status: BookingStatus;
  startAt: Date;
  endAt: Date;
  holdExpiresAt: Date;
  refundable: boolean | null;
  rejectReason: string | null;
  cancelReason: string | null;
  canceledBy: Role | null;
  canceledById: string | null;
  rescheduledFromId: string | null;
  rescheduledToId: string | null;
  confirmRequestedAt: Date | null;
  confirmAttempts: number;
  confirmedAt: Date | null;
  canceledAt: Date | null;
  compensatedAt: Date | null;
  correlationId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The public `Booking` of API.md. */
export interface BookingJson {
  id: string;
  slotId: string;
  studentId: string;
  teacherId: string;
  packageId: string | null;
  status: BookingStatus;
  startAt: string;
  endAt: string;
  holdExpiresAt: string;
  refundable: boolean | null;
  rejectReason: string | null;
  cancelReason: string | null;
  canceledBy: Role | null;
  rescheduledFromId: string | null;
  rescheduledToId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SlotJson {
  id: string;
  teacherId: string;
  startAt: string;
  endAt: string;
  status: SlotStatus;
  teacherDisplayName: string | null;
}

export function bookingJson(b: Booking): BookingJson {
  return {
    id: b.id,
    slotId: b.slotId,
    studentId: b.studentId,
    teacherId: b.teacherId,
    packageId: b.packageId,
    status: b.status,
    startAt: b.startAt.toISOString(),
    endAt: b.endAt.toISOString(),
    holdExpiresAt: b.holdExpiresAt.toISOString(),
    refundable: b.refundable,
    rejectReason: b.rejectReason,
    cancelReason: b.cancelReason,
    canceledBy: b.canceledBy,
    rescheduledFromId: b.rescheduledFromId,
    rescheduledToId: b.rescheduledToId,
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.updatedAt.toISOString(),
  };
}

export function slotJson(s: SlotView): SlotJson {
  return {
    id: s.id,
    teacherId: s.teacherId,
    startAt: s.startAt.toISOString(),
    endAt: s.endAt.toISOString(),
    status: s.status,
    teacherDisplayName: s.teacherDisplayName,
  };
}
