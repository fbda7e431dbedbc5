//! # Inference pallet (docs/pallets.md, runtime index 13)
//!
//! On-chain inference requests: the requester escrows `(prompt + max_tokens) × price` in the
//! model's currency, the chain assigns an executor among the model's providers (weighted by
//! provider weight, within each provider's capacity and weight-proportional bandwidth share), the
//! executor submits a hash-only result, a validator is sampled with probability
//! `1 - 0.99 × reputation / 100` and either passes the result (payout, reputation up) or fails it
//! (slash, full refund). Deadlines are scheduled in `Timeouts` at `deadline + 1` and applied at
//! block initialisation (or by anyone with `expire`). Sealed inputs carry a salted commitment and
//! key wraps to the providers the chain may pick; a commitment is accepted once.
//!
//! The pallet sees its neighbours through `Config` associated types: the currency as an
//! `orml_traits::MultiReservableCurrency` (escrow: reserve, repatriate, unreserve — never a
//! slash), models through [`genai_primitives::ModelLookup`], providers through
//! [`genai_primitives::ProviderRegistry`], and draws from `Randomness` with
//! [`genai_primitives::protocol_random`].
//!
//! devnode (`devnode/pallets/inference.py`) is the reference for behaviour: the same checks in
//! the same order, the same events in the same order, the same writes. One choice forced by the
//! spec's error rules: the call argument types (`InferenceInput`, `SealedInput`, `KeyWrap`) hold
//! plain `Vec`s (the SCALE encoding of a `BoundedVec`), so that an input past its bound is the
//! module error the spec names (`InputTooLarge`, `TooManyRecipients`, `KeyWrapTooLong`) instead
//! of a decoding failure.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod weights;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{BoundedVec, CloneNoBound, EqNoBound, PartialEqNoBound, RuntimeDebugNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::{Permill, RuntimeDebug};

pub use genai_primitives::ModelId;

/// Chain-assigned, sequential.
pub type RequestId = u64;

/// The content key of a sealed input, wrapped to one provider's `encryption_key`.
#[derive(Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, RuntimeDebug, TypeInfo)]
pub struct KeyWrap<AccountId> {
	pub provider: AccountId,
	/// At most `MaxKeyWrapLength` bytes (`KeyWrapTooLong`).
	pub wrapped: Vec<u8>,
}

/// A sealed input (docs/privacy.md): only its shape is checked on-chain.
#[derive(Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, RuntimeDebug, TypeInfo)]
pub struct SealedInput<AccountId> {
	/// `blake2_256(b"genai-input" ++ salt ++ prompt)`: the request's `input_hash`.
	pub commitment: H256,
	/// The requester's ephemeral X25519 key the output is sealed to.
	pub output_key: [u8; 32],
	/// One wrap per provider the chain may pick, at most `MaxProvidersPerModel`.
	pub wraps: Vec<KeyWrap<AccountId>>,
	/// The ciphertext (`SealedInline`, ≤ `MaxSealedInline`) or its CID (`SealedCid`).
	pub payload: Vec<u8>,
}

/// A request's input (call argument only; `Inline` and `Cid` are the explicit plaintext mode).
#[derive(Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, RuntimeDebug, TypeInfo)]
pub enum InferenceInput<AccountId> {
	/// The prompt itself, at most `MaxInlineInput` bytes.
	Inline(Vec<u8>),
	/// The CID of the prompt on IPFS.
	Cid(Vec<u8>),
	SealedInline(SealedInput<AccountId>),
	SealedCid(SealedInput<AccountId>),
}

impl<AccountId> InferenceInput<AccountId> {
	/// The bytes the request's weight charges for (devnode's `_input_bytes`): the input, or a
	/// sealed input's payload, its wraps (32 bytes of account each) and 64 bytes of commitment
	/// and output key.
	pub fn weighed_bytes(&self) -> u32 {
		let bytes = match self {
			Self::Inline(data) | Self::Cid(data) => data.len(),
			Self::SealedInline(sealed) | Self::SealedCid(sealed) => {
				sealed.wraps.iter().fold(sealed.payload.len().saturating_add(64), |acc, wrap| {
					acc.saturating_add(32).saturating_add(wrap.wrapped.len())
				})
			},
		};
		u32::try_from(bytes).unwrap_or(u32::MAX)
	}
}

/// Where a request stands; `Completed`, `Expired`, `Rejected` and `Declined` are terminal.
#[derive(
	Clone,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	RuntimeDebug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum RequestState<AccountId, BlockNumber, Balance> {
	/// Waiting for the executor's result.
	Assigned,
	/// The result is in; the drawn validator checks it (`output_deadline`: output requested).
	AwaitingValidation {
		validator: AccountId,
		validation_deadline: BlockNumber,
		output_deadline: Option<BlockNumber>,
	},
	/// Settled: `cost` paid out, the rest refunded.
	Completed { cost: Balance },
	/// No result before the deadline: refunded.
	Expired,
	/// Failed validation, or a requested output never came: executor slashed, refunded.
	Rejected,
	/// The executor could not serve the input: refunded.
	Declined,
}

impl<AccountId, BlockNumber, Balance> RequestState<AccountId, BlockNumber, Balance> {
	pub fn is_terminal(&self) -> bool {
		matches!(self, Self::Completed { .. } | Self::Expired | Self::Rejected | Self::Declined)
	}
}

/// A request as `Requests` holds it: hash-only, its input and output off-chain. The field order
/// is the spec's (and devnode's): it is the SCALE layout.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	RuntimeDebugNoBound,
	Encode,
	Decode,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct InferenceRequest<T: Config> {
	pub requester: T::AccountId,
	pub model_id: ModelId,
	pub model_version: u32,
	pub executor: T::AccountId,
	pub author: T::AccountId,
	pub input_hash: H256,
	pub input_cid: Option<CidOf<T>>,
	pub prompt_tokens: u32,
	pub max_tokens: u32,
	pub price_per_1k_tokens: BalanceOf<T>,
	pub currency_id: CurrencyIdOf<T>,
	pub author_share: Permill,
	pub escrow: BalanceOf<T>,
	pub bandwidth_bytes: u64,
	pub deadline: BlockNumberFor<T>,
	pub created_at: BlockNumberFor<T>,
	pub output_hash: Option<H256>,
	pub output_cid: Option<CidOf<T>>,
	pub used_tokens: u32,
	pub state: RequestStateOf<T>,
	pub sealed: bool,
	pub output_key: Option<[u8; 32]>,
}

/// The protocol's draw tags (docs/pallets.md § Inference, Randomness).
pub const TAG_ASSIGN: &[u8] = b"infer/assign";
pub const TAG_VALIDATE: &[u8] = b"infer/validate";
pub const TAG_VALIDATOR: &[u8] = b"infer/validator";

/// Parts per million: the scale of the sampling rule and of `Permill`.
const PPM: u128 = 1_000_000;

/// `ceil(tokens × price / 1000)`: what `tokens` cost at `price` per 1,000 (saturating at the
/// balance type's maximum, which no account can reserve).
pub fn price_of<Balance: sp_runtime::traits::AtLeast32BitUnsigned + Copy>(
	tokens: u64,
	price_per_1k: Balance,
) -> Balance {
	use sp_runtime::{
		helpers_128bit::multiply_by_rational_with_rounding, Rounding, SaturatedConversion,
	};
	let price: u128 = price_per_1k.saturated_into();
	multiply_by_rational_with_rounding(u128::from(tokens), price, 1000, Rounding::Up)
		.unwrap_or(u128::MAX)
		.saturated_into()
}

/// The validation probability at `reputation`, in parts per million: 1 at 0, 0.01 at 100.
pub fn validation_probability_ppm(reputation: u8) -> u128 {
	PPM.saturating_sub(9_900 * u128::from(reputation))
}

/// The account at `draw mod Σ weight` walking the cumulative weights in list order; `None` for
/// an empty list (or zero total weight).
pub fn pick_weighted<AccountId: Clone>(
	candidates: &[(AccountId, u128)],
	draw: u128,
) -> Option<AccountId> {
	let total = candidates.iter().fold(0u128, |acc, (_, weight)| acc.saturating_add(*weight));
	if total == 0 {
		return None;
	}
	let mut point = draw % total;
	for (who, weight) in candidates {
		if point < *weight {
			return Some(who.clone());
		}
		point -= *weight;
	}
	None
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::collections::btree_set::BTreeSet;
	use frame_support::{pallet_prelude::*, traits::Randomness};
	use frame_system::pallet_prelude::*;
	use genai_primitives::{protocol_random, ModelLookup, ProviderRegistry};
	use orml_traits::{BalanceStatus, MultiCurrency, MultiReservableCurrency};
	use sp_runtime::{
		traits::{Saturating, Zero},
		ArithmeticError,
	};

	pub type BalanceOf<T> =
		<<T as Config>::Currency as MultiCurrency<<T as frame_system::Config>::AccountId>>::Balance;
	pub type CurrencyIdOf<T> = <<T as Config>::Currency as MultiCurrency<
		<T as frame_system::Config>::AccountId,
	>>::CurrencyId;
	pub type CidOf<T> = BoundedVec<u8, <T as Config>::MaxCidLength>;
	pub type RequestStateOf<T> =
		RequestState<<T as frame_system::Config>::AccountId, BlockNumberFor<T>, BalanceOf<T>>;
	pub type InferenceRequestOf<T> = InferenceRequest<T>;
	pub type InferenceInputOf<T> = InferenceInput<<T as frame_system::Config>::AccountId>;

	/// What the benchmarks need from the runtime: a model and providers of it (through the real
	/// ModelRegistry and Providers), and a currency to escrow in.
	#[cfg(feature = "runtime-benchmarks")]
	pub trait BenchmarkHelper<AccountId> {
		/// `author` registers a model taking requests, priced above zero in a currency with
		/// issuance; its id.
		fn model(author: &AccountId) -> ModelId;
		/// `who` becomes an active provider of `model` with an encryption key and the largest
		/// capacity, funded for its stake.
		fn provider(who: &AccountId, model: &ModelId);
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Escrows are reserved in the model's currency.
		type Currency: MultiReservableCurrency<Self::AccountId>;
		/// ModelRegistry: a model's price, currency, author and share.
		type Models: ModelLookup<
			Self::AccountId,
			Balance = BalanceOf<Self>,
			CurrencyId = CurrencyIdOf<Self>,
		>;
		/// Providers: candidates, in-flight slots, reputation and slashing.
		type Providers: ProviderRegistry<Self::AccountId, Balance = BalanceOf<Self>>;
		/// The seed of the protocol's draws (`random_seed().0`; the parent hash on a dev chain).
		type Randomness: Randomness<H256, BlockNumberFor<Self>>;
		/// Largest inline input, bytes (1024).
		#[pallet::constant]
		type MaxInlineInput: Get<u32>;
		/// Largest sealed inline input, bytes (1024 + 128).
		#[pallet::constant]
		type MaxSealedInline: Get<u32>;
		/// Largest key wrap, bytes (128).
		#[pallet::constant]
		type MaxKeyWrapLength: Get<u32>;
		/// Largest provided output, bytes (65536).
		#[pallet::constant]
		type MaxOutputBytes: Get<u32>;
		/// Prompt + max tokens (100_000).
		#[pallet::constant]
		type MaxTokensPerRequest: Get<u32>;
		/// Shortest deadline, blocks (2).
		#[pallet::constant]
		type MinDeadline: Get<BlockNumberFor<Self>>;
		/// Longest deadline, blocks (600).
		#[pallet::constant]
		type MaxDeadline: Get<BlockNumberFor<Self>>;
		/// Blocks a validator has (20).
		#[pallet::constant]
		type ValidationPeriod: Get<BlockNumberFor<Self>>;
		/// Blocks an executor has to provide a requested output (10).
		#[pallet::constant]
		type OutputProvidePeriod: Get<BlockNumberFor<Self>>;
		/// Deadlines per block (256).
		#[pallet::constant]
		type MaxTimeoutsPerBlock: Get<u32>;
		/// Inference bytes shared among providers by weight (21_500 × 1024).
		#[pallet::constant]
		type BlockBandwidthBytes: Get<u64>;
		/// Bandwidth estimate per prompt token, bytes (3).
		#[pallet::constant]
		type InputBytesPerToken: Get<u32>;
		/// Bandwidth estimate per completion token, bytes (640).
		#[pallet::constant]
		type OutputBytesPerToken: Get<u32>;
		/// Reputation added per passed validation (5).
		#[pallet::constant]
		type ReputationGain: Get<u32>;
		/// Reputation lost per expiry (10).
		#[pallet::constant]
		type ReputationLoss: Get<u32>;
		/// Share of the stake slashed on a failed validation or a withheld output (10 %).
		#[pallet::constant]
		type SlashFraction: Get<Permill>;
		/// ModelRegistry's `MaxCidLength` (128): the bound of the CIDs a request records.
		type MaxCidLength: Get<u32>;
		/// Providers' `MaxProvidersPerModel` (64): the most key wraps a sealed input may carry.
		type MaxProvidersPerModel: Get<u32>;
		type WeightInfo: WeightInfo;
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// The id the next request gets.
	#[pallet::storage]
	pub type NextRequestId<T: Config> = StorageValue<_, RequestId, ValueQuery>;

	/// Every request, hash-only; terminal ones keep their final state.
	#[pallet::storage]
	pub type Requests<T: Config> = StorageMap<_, Twox64Concat, RequestId, InferenceRequestOf<T>>;

	/// Requests with a deadline falling due at the start of this block.
	#[pallet::storage]
	pub type Timeouts<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<RequestId, T::MaxTimeoutsPerBlock>,
		ValueQuery,
	>;

	/// Estimated inference bytes reserved on each provider by its assigned requests.
	#[pallet::storage]
	pub type BandwidthInUse<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u64, ValueQuery>;

	/// The request of every sealed input's commitment: a sealed input is accepted once.
	#[pallet::storage]
	pub type SealedCommitments<T: Config> = StorageMap<_, Blake2_128Concat, H256, RequestId>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A request was placed, escrowed and assigned.
		InferenceRequested {
			request_id: RequestId,
			requester: T::AccountId,
			model_id: ModelId,
			executor: T::AccountId,
			escrow: BalanceOf<T>,
			deadline: BlockNumberFor<T>,
		},
		/// The executor reported the output's hash and token counts.
		ResultSubmitted {
			request_id: RequestId,
			output_hash: H256,
			prompt_tokens: u32,
			completion_tokens: u32,
		},
		/// The result was sampled for validation.
		ValidationRequested {
			request_id: RequestId,
			validator: T::AccountId,
			deadline: BlockNumberFor<T>,
		},
		/// The request was settled: author and executor paid, the rest refunded.
		InferencePaid {
			request_id: RequestId,
			cost: BalanceOf<T>,
			author: T::AccountId,
			author_amount: BalanceOf<T>,
			executor: T::AccountId,
			executor_amount: BalanceOf<T>,
			refund: BalanceOf<T>,
		},
		/// A validator confirmed the result.
		ValidationPassed { request_id: RequestId, validator: T::AccountId },
		/// A validator rejected the result: executor slashed, requester refunded.
		ValidationFailed { request_id: RequestId, validator: T::AccountId, slashed: BalanceOf<T> },
		/// The validator asked the executor to put the output on-chain.
		OutputRequested { request_id: RequestId, deadline: BlockNumberFor<T> },
		/// The executor provided the output on-chain.
		OutputProvided { request_id: RequestId },
		/// No result before the deadline: requester refunded.
		RequestExpired { request_id: RequestId, refund: BalanceOf<T> },
		/// The executor did not provide a requested output: slashed, requester refunded.
		OutputTimedOut { request_id: RequestId, slashed: BalanceOf<T> },
		/// The executor could not serve the input (a sealed input that does not open): refunded.
		RequestDeclined { request_id: RequestId, refund: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No model with this id.
		UnknownModel,
		/// The model is deprecated.
		ModelDeprecated,
		/// The model's price is above the requester's maximum.
		PriceAboveMaximum,
		/// Inline input is longer than `MaxInlineInput`.
		InputTooLarge,
		/// The input is empty.
		EmptyInput,
		/// A CID is not a valid CIDv0 or base32 CIDv1.
		InvalidCid,
		/// Token counts out of range.
		InvalidTokenCount,
		/// Deadline outside `MinDeadline..=MaxDeadline`.
		InvalidDeadline,
		/// No active provider of the model has free capacity.
		NoProviderAvailable,
		/// No provider has bandwidth left for this request.
		BandwidthExceeded,
		/// Too many deadlines fall in that block.
		TooManyTimeouts,
		/// No request with this id.
		UnknownRequest,
		/// Only the assigned executor may do this.
		NotExecutor,
		/// Only the drawn validator may do this.
		NotValidator,
		/// The request is not in a state that allows this.
		InvalidState,
		/// The request's deadline has passed.
		DeadlinePassed,
		/// The output was already requested.
		OutputAlreadyRequested,
		/// The output is longer than `MaxOutputBytes`.
		OutputTooLarge,
		/// The output does not hash to the submitted output hash.
		OutputHashMismatch,
		/// Nothing about this request is due yet.
		NotExpired,
		/// A sealed input wraps its key to nobody.
		NoRecipients,
		/// More key wraps than `MaxProvidersPerModel`.
		TooManyRecipients,
		/// A provider has two key wraps.
		DuplicateRecipient,
		/// A key wrap is longer than `MaxKeyWrapLength`.
		KeyWrapTooLong,
		/// This sealed input's commitment was already used.
		InputReplayed,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Applies the deadlines due at `n`: each request in `Timeouts[n]` in its own storage
		/// layer (one that fails is skipped, as devnode does); entries whose state no longer
		/// matches are skipped.
		fn on_initialize(n: BlockNumberFor<T>) -> Weight {
			let due = Timeouts::<T>::take(n);
			if due.is_empty() {
				return T::WeightInfo::on_initialize(0);
			}
			for request_id in due.iter() {
				let _ = frame_support::storage::with_storage_layer(|| {
					Self::process_due(*request_id).map(|_| ())
				});
			}
			T::WeightInfo::on_initialize(due.len() as u32)
		}

		fn integrity_test() {
			assert!(T::MinDeadline::get() <= T::MaxDeadline::get(), "MinDeadline > MaxDeadline");
			assert!(T::MaxTimeoutsPerBlock::get() > 0, "MaxTimeoutsPerBlock is 0");
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Request an inference: escrow `(prompt + max_tokens) × price`, assign an executor.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::request(
			input.weighed_bytes(),
			T::MaxProvidersPerModel::get(),
		))]
		pub fn request(
			origin: OriginFor<T>,
			model_id: ModelId,
			input: InferenceInputOf<T>,
			prompt_tokens: u32,
			max_tokens: u32,
			max_price_per_1k_tokens: BalanceOf<T>,
			deadline_blocks: BlockNumberFor<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let valid = Self::validate_request(
				model_id,
				input,
				prompt_tokens,
				max_tokens,
				max_price_per_1k_tokens,
				deadline_blocks,
			)?;
			let request_id = NextRequestId::<T>::get();
			let executor = Self::select_executor(&valid, &who, request_id)?;
			Self::place(request_id, who, executor, valid)
		}

		/// The executor reports the output's hash (and optionally CID) and token counts.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::submit_result())]
		pub fn submit_result(
			origin: OriginFor<T>,
			request_id: RequestId,
			output_hash: H256,
			output_cid: Option<Vec<u8>>,
			prompt_tokens: u32,
			completion_tokens: u32,
		) -> DispatchResult {
			let (who, mut req) = Self::assigned(origin, request_id)?;
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(now <= req.deadline, Error::<T>::DeadlinePassed);
			ensure!(completion_tokens <= req.max_tokens, Error::<T>::InvalidTokenCount);
			req.output_cid = match output_cid {
				None => None,
				Some(cid) => Some(Self::check_cid(cid)?),
			};
			req.output_hash = Some(output_hash);
			req.used_tokens = prompt_tokens.saturating_add(completion_tokens);
			Self::release_bandwidth(&who, req.bandwidth_bytes);
			Self::deposit_event(Event::ResultSubmitted {
				request_id,
				output_hash,
				prompt_tokens,
				completion_tokens,
			});
			let Some(validator) = Self::validator_for(request_id, &req) else {
				return Self::settle(request_id, req);
			};
			let deadline = now.saturating_add(T::ValidationPeriod::get());
			req.state = RequestState::AwaitingValidation {
				validator: validator.clone(),
				validation_deadline: deadline,
				output_deadline: None,
			};
			Requests::<T>::insert(request_id, req);
			Self::schedule(deadline.saturating_add(One::one()), request_id)?;
			Self::deposit_event(Event::ValidationRequested { request_id, validator, deadline });
			Ok(())
		}

		/// The drawn validator's verdict: pass pays out, fail slashes and refunds.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::submit_validation())]
		pub fn submit_validation(
			origin: OriginFor<T>,
			request_id: RequestId,
			valid: bool,
		) -> DispatchResult {
			let (req, awaiting) = Self::awaiting(origin, request_id)?;
			let validator = awaiting.validator;
			if valid {
				let executor = req.executor.clone();
				Self::settle(request_id, req)?;
				if let Some(info) = T::Providers::provider(&executor) {
					let gained =
						u32::from(info.reputation).saturating_add(T::ReputationGain::get());
					T::Providers::set_reputation(&executor, clamp_reputation(gained));
				}
				Self::deposit_event(Event::ValidationPassed { request_id, validator });
				return Ok(());
			}
			let slashed = Self::reject(request_id, req);
			Self::deposit_event(Event::ValidationFailed { request_id, validator, slashed });
			Ok(())
		}

		/// The validator could not get the output off-chain: the executor must put it on-chain.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::request_output())]
		pub fn request_output(origin: OriginFor<T>, request_id: RequestId) -> DispatchResult {
			let (mut req, awaiting) = Self::awaiting(origin, request_id)?;
			ensure!(awaiting.output_deadline.is_none(), Error::<T>::OutputAlreadyRequested);
			let now = frame_system::Pallet::<T>::block_number();
			let deadline = now.saturating_add(T::OutputProvidePeriod::get());
			req.state = RequestState::AwaitingValidation {
				validator: awaiting.validator,
				validation_deadline: awaiting.validation_deadline,
				output_deadline: Some(deadline),
			};
			Requests::<T>::insert(request_id, req);
			Self::schedule(deadline.saturating_add(One::one()), request_id)?;
			Self::deposit_event(Event::OutputRequested { request_id, deadline });
			Ok(())
		}

		/// The executor answers `request_output`; the output is checked against its hash (for a
		/// plaintext request), not stored: validators read it from the extrinsic.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::provide_output(
			u32::try_from(output.len()).unwrap_or(u32::MAX),
		))]
		pub fn provide_output(
			origin: OriginFor<T>,
			request_id: RequestId,
			output: Vec<u8>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut req = Self::request_of(request_id)?;
			ensure!(req.executor == who, Error::<T>::NotExecutor);
			let RequestState::AwaitingValidation {
				validator,
				mut validation_deadline,
				output_deadline: Some(_),
			} = req.state.clone()
			else {
				return Err(Error::<T>::InvalidState.into());
			};
			ensure!(output.len() <= T::MaxOutputBytes::get() as usize, Error::<T>::OutputTooLarge);
			// A sealed request's output is sealed to the validator, who checks the commitments.
			if !req.sealed {
				let hash = H256(sp_io::hashing::blake2_256(&output));
				ensure!(req.output_hash == Some(hash), Error::<T>::OutputHashMismatch);
			}
			let extended = frame_system::Pallet::<T>::block_number()
				.saturating_add(T::ValidationPeriod::get());
			if validation_deadline < extended {
				validation_deadline = extended;
				Self::schedule(extended.saturating_add(One::one()), request_id)?;
			}
			req.state = RequestState::AwaitingValidation {
				validator,
				validation_deadline,
				output_deadline: None,
			};
			Requests::<T>::insert(request_id, req);
			Self::deposit_event(Event::OutputProvided { request_id });
			Ok(())
		}

		/// Anyone may apply a passed deadline (block initialisation does it too).
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::expire())]
		pub fn expire(origin: OriginFor<T>, request_id: RequestId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::request_of(request_id)?;
			ensure!(Self::process_due(request_id)?, Error::<T>::NotExpired);
			Ok(())
		}

		/// The executor cannot serve the input (a sealed input that does not open): refund.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::decline())]
		pub fn decline(origin: OriginFor<T>, request_id: RequestId) -> DispatchResult {
			let (who, req) = Self::assigned(origin, request_id)?;
			let refund = Self::refund_escrow(&req);
			Self::release_bandwidth(&who, req.bandwidth_bytes);
			Self::finish(request_id, req, RequestState::Declined);
			Self::deposit_event(Event::RequestDeclined { request_id, refund });
			Ok(())
		}
	}

	/// A request that passed validation, with what it costs; not yet booked.
	pub(crate) struct ValidRequest<T: Config> {
		model_id: ModelId,
		terms: genai_primitives::ModelTerms<T::AccountId, BalanceOf<T>, CurrencyIdOf<T>>,
		input_hash: H256,
		input_cid: Option<CidOf<T>>,
		/// A sealed input's commitment, output key and recipients.
		sealed: Option<(H256, [u8; 32], BTreeSet<T::AccountId>)>,
		prompt_tokens: u32,
		max_tokens: u32,
		deadline_blocks: BlockNumberFor<T>,
		escrow: BalanceOf<T>,
		bandwidth: u64,
	}

	/// An `AwaitingValidation` state, unpacked.
	pub(crate) struct Awaiting<T: Config> {
		validator: T::AccountId,
		validation_deadline: BlockNumberFor<T>,
		output_deadline: Option<BlockNumberFor<T>>,
	}

	/// A reputation in `0..=100`.
	fn clamp_reputation(reputation: u32) -> u8 {
		reputation.min(100) as u8
	}

	impl<T: Config> Pallet<T> {
		/// The request, or `UnknownRequest`.
		pub fn request_of(request_id: RequestId) -> Result<InferenceRequestOf<T>, DispatchError> {
			Requests::<T>::get(request_id).ok_or_else(|| Error::<T>::UnknownRequest.into())
		}

		/// `escrow = ceil((prompt_tokens + max_tokens) × price / 1000)`.
		pub fn escrow_for(
			prompt_tokens: u32,
			max_tokens: u32,
			price: BalanceOf<T>,
		) -> BalanceOf<T> {
			price_of(u64::from(prompt_tokens) + u64::from(max_tokens), price)
		}

		/// `prompt_tokens × InputBytesPerToken + max_tokens × OutputBytesPerToken`.
		pub fn bandwidth_estimate(prompt_tokens: u32, max_tokens: u32) -> u64 {
			u64::from(prompt_tokens)
				.saturating_mul(u64::from(T::InputBytesPerToken::get()))
				.saturating_add(
					u64::from(max_tokens).saturating_mul(u64::from(T::OutputBytesPerToken::get())),
				)
		}

		fn seed() -> H256 {
			T::Randomness::random_seed().0
		}

		/// The signer and its request, still `Assigned` to it (`NotExecutor` before
		/// `InvalidState`).
		fn assigned(
			origin: OriginFor<T>,
			request_id: RequestId,
		) -> Result<(T::AccountId, InferenceRequestOf<T>), DispatchError> {
			let who = ensure_signed(origin)?;
			let req = Self::request_of(request_id)?;
			ensure!(req.executor == who, Error::<T>::NotExecutor);
			ensure!(req.state == RequestState::Assigned, Error::<T>::InvalidState);
			Ok((who, req))
		}

		/// The request and its state, awaiting the signer's validation (`InvalidState` before
		/// `NotValidator`).
		fn awaiting(
			origin: OriginFor<T>,
			request_id: RequestId,
		) -> Result<(InferenceRequestOf<T>, Awaiting<T>), DispatchError> {
			let who = ensure_signed(origin)?;
			let req = Self::request_of(request_id)?;
			let RequestState::AwaitingValidation {
				validator,
				validation_deadline,
				output_deadline,
			} = req.state.clone()
			else {
				return Err(Error::<T>::InvalidState.into());
			};
			ensure!(validator == who, Error::<T>::NotValidator);
			Ok((req, Awaiting { validator, validation_deadline, output_deadline }))
		}

		/// `InvalidCid` past `MaxCidLength` or unless a valid CIDv0 / base32 CIDv1.
		fn check_cid(cid: Vec<u8>) -> Result<CidOf<T>, DispatchError> {
			let cid: CidOf<T> = cid.try_into().map_err(|_| Error::<T>::InvalidCid)?;
			ensure!(pallet_model_registry::cid::is_valid_cid(&cid), Error::<T>::InvalidCid);
			Ok(cid)
		}

		/// The key wraps' checks, in the spec's order; the recipients.
		fn check_wraps(
			sealed: &SealedInput<T::AccountId>,
		) -> Result<BTreeSet<T::AccountId>, DispatchError> {
			let wraps = &sealed.wraps;
			ensure!(!wraps.is_empty(), Error::<T>::NoRecipients);
			ensure!(
				wraps.len() <= T::MaxProvidersPerModel::get() as usize,
				Error::<T>::TooManyRecipients
			);
			let recipients: BTreeSet<T::AccountId> =
				wraps.iter().map(|wrap| wrap.provider.clone()).collect();
			ensure!(recipients.len() == wraps.len(), Error::<T>::DuplicateRecipient);
			let longest = T::MaxKeyWrapLength::get() as usize;
			ensure!(
				wraps.iter().all(|wrap| wrap.wrapped.len() <= longest),
				Error::<T>::KeyWrapTooLong
			);
			ensure!(
				!SealedCommitments::<T>::contains_key(sealed.commitment),
				Error::<T>::InputReplayed
			);
			Ok(recipients)
		}

		/// Check a request's model, price, input, token counts and deadline; what it will cost.
		fn validate_request(
			model_id: ModelId,
			input: InferenceInputOf<T>,
			prompt_tokens: u32,
			max_tokens: u32,
			max_price_per_1k_tokens: BalanceOf<T>,
			deadline_blocks: BlockNumberFor<T>,
		) -> Result<ValidRequest<T>, DispatchError> {
			let terms = T::Models::model_terms(&model_id).ok_or(Error::<T>::UnknownModel)?;
			ensure!(terms.active, Error::<T>::ModelDeprecated);
			ensure!(
				terms.price_per_1k_tokens <= max_price_per_1k_tokens,
				Error::<T>::PriceAboveMaximum
			);
			let (data, inline_limit, sealed) = match input {
				InferenceInput::Inline(data) => (data, Some(T::MaxInlineInput::get()), None),
				InferenceInput::Cid(data) => (data, None, None),
				InferenceInput::SealedInline(sealed) => {
					let recipients = Self::check_wraps(&sealed)?;
					let meta = (sealed.commitment, sealed.output_key, recipients);
					(sealed.payload, Some(T::MaxSealedInline::get()), Some(meta))
				},
				InferenceInput::SealedCid(sealed) => {
					let recipients = Self::check_wraps(&sealed)?;
					let meta = (sealed.commitment, sealed.output_key, recipients);
					(sealed.payload, None, Some(meta))
				},
			};
			ensure!(!data.is_empty(), Error::<T>::EmptyInput);
			let input_hash = match &sealed {
				None => H256(sp_io::hashing::blake2_256(&data)),
				Some((commitment, _, _)) => *commitment,
			};
			let input_cid = match inline_limit {
				Some(limit) => {
					ensure!(data.len() <= limit as usize, Error::<T>::InputTooLarge);
					None
				},
				None => Some(Self::check_cid(data)?),
			};
			ensure!(
				max_tokens >= 1
					&& u64::from(prompt_tokens) + u64::from(max_tokens)
						<= u64::from(T::MaxTokensPerRequest::get()),
				Error::<T>::InvalidTokenCount
			);
			ensure!(
				T::MinDeadline::get() <= deadline_blocks
					&& deadline_blocks <= T::MaxDeadline::get(),
				Error::<T>::InvalidDeadline
			);
			let escrow = Self::escrow_for(prompt_tokens, max_tokens, terms.price_per_1k_tokens);
			Ok(ValidRequest {
				model_id,
				terms,
				input_hash,
				input_cid,
				sealed,
				prompt_tokens,
				max_tokens,
				deadline_blocks,
				escrow,
				bandwidth: Self::bandwidth_estimate(prompt_tokens, max_tokens),
			})
		}

		/// The executor among the model's providers that may serve the request: active, not the
		/// requester, with free capacity and weight (and, sealed, a key wrap and an encryption
		/// key) — none: `NoProviderAvailable`; then with bandwidth left under its share of
		/// `BlockBandwidthBytes` — none: `BandwidthExceeded`; drawn by weight with
		/// `r("infer/assign")`.
		fn select_executor(
			valid: &ValidRequest<T>,
			requester: &T::AccountId,
			request_id: RequestId,
		) -> Result<T::AccountId, DispatchError> {
			let recipients = valid.sealed.as_ref().map(|(_, _, recipients)| recipients);
			let mut with_capacity = Vec::new();
			for who in T::Providers::providers_of(&valid.model_id) {
				let Some(info) = T::Providers::provider(&who) else { continue };
				let may_open = match recipients {
					None => true,
					Some(recipients) => recipients.contains(&who) && info.encryption_key.is_some(),
				};
				if &who != requester
					&& may_open && info.active
					&& info.in_flight < info.capacity
					&& info.weight > 0
				{
					with_capacity.push((who, info.weight));
				}
			}
			ensure!(!with_capacity.is_empty(), Error::<T>::NoProviderAvailable);
			let total_weight = T::Providers::total_weight();
			let block_bandwidth = u128::from(T::BlockBandwidthBytes::get());
			let weighted: Vec<(T::AccountId, u128)> = with_capacity
				.into_iter()
				.filter(|(who, weight)| {
					let share = sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
						block_bandwidth,
						*weight,
						total_weight,
						sp_runtime::Rounding::Down,
					)
					.unwrap_or(0);
					let wanted =
						u128::from(BandwidthInUse::<T>::get(who)) + u128::from(valid.bandwidth);
					wanted <= share
				})
				.collect();
			let draw = protocol_random(TAG_ASSIGN, &Self::seed(), request_id);
			pick_weighted(&weighted, draw).ok_or_else(|| Error::<T>::BandwidthExceeded.into())
		}

		/// Book a checked request on `executor`: escrow, capacity, bandwidth, deadline, record.
		fn place(
			request_id: RequestId,
			who: T::AccountId,
			executor: T::AccountId,
			valid: ValidRequest<T>,
		) -> DispatchResult {
			let next = request_id.checked_add(1).ok_or(ArithmeticError::Overflow)?;
			NextRequestId::<T>::put(next);
			let terms = valid.terms;
			T::Currency::reserve(terms.currency_id, &who, valid.escrow)?;
			T::Providers::acquire_slot(&executor)?;
			Self::add_bandwidth(&executor, valid.bandwidth);
			let now = frame_system::Pallet::<T>::block_number();
			let deadline = now.saturating_add(valid.deadline_blocks);
			Self::schedule(deadline.saturating_add(One::one()), request_id)?;
			let (sealed, output_key) = match &valid.sealed {
				None => (false, None),
				Some((commitment, output_key, _)) => {
					SealedCommitments::<T>::insert(commitment, request_id);
					(true, Some(*output_key))
				},
			};
			Requests::<T>::insert(
				request_id,
				InferenceRequest {
					requester: who.clone(),
					model_id: valid.model_id,
					model_version: terms.version,
					executor: executor.clone(),
					author: terms.author,
					input_hash: valid.input_hash,
					input_cid: valid.input_cid,
					prompt_tokens: valid.prompt_tokens,
					max_tokens: valid.max_tokens,
					price_per_1k_tokens: terms.price_per_1k_tokens,
					currency_id: terms.currency_id,
					author_share: terms.author_share,
					escrow: valid.escrow,
					bandwidth_bytes: valid.bandwidth,
					deadline,
					created_at: now,
					output_hash: None,
					output_cid: None,
					used_tokens: 0,
					state: RequestState::Assigned,
					sealed,
					output_key,
				},
			);
			Self::deposit_event(Event::InferenceRequested {
				request_id,
				requester: who,
				model_id: valid.model_id,
				executor,
				escrow: valid.escrow,
				deadline,
			});
			Ok(())
		}

		/// Push `request_id` to `Timeouts[at]` (`TooManyTimeouts` if full).
		fn schedule(at: BlockNumberFor<T>, request_id: RequestId) -> DispatchResult {
			Timeouts::<T>::try_mutate(at, |due| {
				due.try_push(request_id).map_err(|_| Error::<T>::TooManyTimeouts.into())
			})
		}

		fn add_bandwidth(who: &T::AccountId, bytes: u64) {
			let used = BandwidthInUse::<T>::get(who).saturating_add(bytes);
			Self::put_bandwidth(who, used);
		}

		fn release_bandwidth(who: &T::AccountId, bytes: u64) {
			let used = BandwidthInUse::<T>::get(who).saturating_sub(bytes);
			Self::put_bandwidth(who, used);
		}

		/// A provider with nothing reserved has no `BandwidthInUse` entry.
		fn put_bandwidth(who: &T::AccountId, used: u64) {
			if used == 0 {
				BandwidthInUse::<T>::remove(who);
			} else {
				BandwidthInUse::<T>::insert(who, used);
			}
		}

		/// Whether to validate (by the executor's reputation) and whom (by weight, among the
		/// model's other active providers; for a sealed request one with an encryption key);
		/// `None` when not sampled or nobody can validate.
		fn validator_for(
			request_id: RequestId,
			req: &InferenceRequestOf<T>,
		) -> Option<T::AccountId> {
			let reputation =
				T::Providers::provider(&req.executor).map(|info| info.reputation).unwrap_or(0);
			let seed = Self::seed();
			let draw = protocol_random(TAG_VALIDATE, &seed, request_id) % PPM;
			if draw >= validation_probability_ppm(reputation) {
				return None;
			}
			let candidates: Vec<(T::AccountId, u128)> = T::Providers::providers_of(&req.model_id)
				.into_iter()
				.filter(|who| who != &req.executor && who != &req.requester)
				.filter_map(|who| {
					let info = T::Providers::provider(&who)?;
					let eligible = info.active
						&& info.weight > 0 && (!req.sealed
						|| info.encryption_key.is_some());
					eligible.then_some((who, info.weight))
				})
				.collect();
			if candidates.is_empty() {
				return None;
			}
			pick_weighted(&candidates, protocol_random(TAG_VALIDATOR, &seed, request_id))
		}

		/// Unreserve the requester's whole escrow; what came back.
		fn refund_escrow(req: &InferenceRequestOf<T>) -> BalanceOf<T> {
			let remaining = T::Currency::unreserve(req.currency_id, &req.requester, req.escrow);
			req.escrow.saturating_sub(remaining)
		}

		/// Write the terminal state and free the executor's in-flight slot.
		fn finish(request_id: RequestId, mut req: InferenceRequestOf<T>, state: RequestStateOf<T>) {
			req.state = state;
			let executor = req.executor.clone();
			Requests::<T>::insert(request_id, req);
			T::Providers::release_slot(&executor);
		}

		/// Pay `cost` to the author and the executor out of the escrow, refund the rest:
		/// `Completed{cost}`.
		fn settle(request_id: RequestId, req: InferenceRequestOf<T>) -> DispatchResult {
			let currency = req.currency_id;
			let used = price_of(u64::from(req.used_tokens), req.price_per_1k_tokens);
			let cost = req.escrow.min(used);
			let refund = req.escrow.saturating_sub(cost);
			let author_amount = req.author_share.mul_floor(cost);
			let executor_amount = cost.saturating_sub(author_amount);
			T::Currency::repatriate_reserved(
				currency,
				&req.requester,
				&req.author,
				author_amount,
				BalanceStatus::Free,
			)?;
			T::Currency::repatriate_reserved(
				currency,
				&req.requester,
				&req.executor,
				executor_amount,
				BalanceStatus::Free,
			)?;
			T::Currency::unreserve(currency, &req.requester, refund);
			let author = req.author.clone();
			let executor = req.executor.clone();
			Self::finish(request_id, req, RequestState::Completed { cost });
			Self::deposit_event(Event::InferencePaid {
				request_id,
				cost,
				author,
				author_amount,
				executor,
				executor_amount,
				refund,
			});
			Ok(())
		}

		/// Fraud or a withheld output: slash the executor's stake by `SlashFraction`, reset its
		/// reputation, refund the requester in full: `Rejected`. What was slashed.
		fn reject(request_id: RequestId, req: InferenceRequestOf<T>) -> BalanceOf<T> {
			let slashed = match T::Providers::provider(&req.executor) {
				None => Zero::zero(),
				Some(info) => {
					let amount = T::SlashFraction::get().mul_floor(info.stake);
					let slashed = T::Providers::slash_stake(&req.executor, amount);
					T::Providers::set_reputation(&req.executor, 0);
					slashed
				},
			};
			Self::refund_escrow(&req);
			Self::finish(request_id, req, RequestState::Rejected);
			slashed
		}

		/// No result before the deadline: full refund, bandwidth released, reputation
		/// `-ReputationLoss`: `Expired`.
		fn expire_assigned(request_id: RequestId, req: InferenceRequestOf<T>) {
			let refund = Self::refund_escrow(&req);
			Self::release_bandwidth(&req.executor, req.bandwidth_bytes);
			if let Some(info) = T::Providers::provider(&req.executor) {
				let lowered = u32::from(info.reputation).saturating_sub(T::ReputationLoss::get());
				T::Providers::set_reputation(&req.executor, clamp_reputation(lowered));
			}
			Self::finish(request_id, req, RequestState::Expired);
			Self::deposit_event(Event::RequestExpired { request_id, refund });
		}

		/// Apply whatever deadline of `request_id` has passed; `false` when nothing is due.
		pub(crate) fn process_due(request_id: RequestId) -> Result<bool, DispatchError> {
			let Some(req) = Requests::<T>::get(request_id) else { return Ok(false) };
			let now = frame_system::Pallet::<T>::block_number();
			match req.state {
				RequestState::Assigned if now > req.deadline => {
					Self::expire_assigned(request_id, req);
					Ok(true)
				},
				RequestState::AwaitingValidation { output_deadline: Some(deadline), .. }
					if now > deadline =>
				{
					let slashed = Self::reject(request_id, req);
					Self::deposit_event(Event::OutputTimedOut { request_id, slashed });
					Ok(true)
				},
				RequestState::AwaitingValidation {
					output_deadline: None,
					validation_deadline,
					..
				} if now > validation_deadline => {
					Self::settle(request_id, req)?;
					Ok(true)
				},
				_ => Ok(false),
			}
		}
	}
}
